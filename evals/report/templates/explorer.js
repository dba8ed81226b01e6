// The report's one script (pinned by hash in the CSP): folded sections that open when linked to,
// long texts that expand, and the failure explorer's filters and pages. Text goes in with textContent only.
"use strict";
(() => {
  // A link to a section (the navigation, "see the Cost section") opens its <details> before the browser scrolls there.
  const open = (hash) => {
    const target = hash.length > 1 ? document.getElementById(decodeURIComponent(hash.slice(1))) : null;
    if (!target) return;
    const inner = target.querySelector(":scope > details");
    for (let d = inner || target.closest("details"); d; d = d.parentElement && d.parentElement.closest("details")) d.open = true;
  };
  document.addEventListener("click", (e) => {
    const link = e.target.closest && e.target.closest("a[href^='#']");
    if (link) open(link.getAttribute("href"));
    const button = e.target.closest && e.target.closest("button.expand");
    if (button) {
      const text = button.previousElementSibling, expanded = !text.classList.contains("open");
      text.classList.toggle("open", expanded);
      button.setAttribute("aria-expanded", String(expanded));
      button.textContent = expanded ? "Show less" : button.dataset.more;
    }
  });
  window.addEventListener("hashchange", () => open(location.hash));
  // A printout is the whole report: every section opened.
  window.addEventListener("beforeprint", () => document.querySelectorAll("details").forEach((d) => { d.open = true; }));
  if (location.hash) {
    open(location.hash);
    const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (target) target.scrollIntoView();
  }

  const body = document.getElementById("fx-body");
  if (!body) return;
  const data = JSON.parse(document.getElementById("rows").textContent);
  const S = data.strings, PAGE = 50;
  const selects = [...document.querySelectorAll("select[data-column]")];
  const info = document.getElementById("fx-info"), prev = document.getElementById("fx-prev"), next = document.getElementById("fx-next");
  let hits = data.rows, page = 0;
  const text = (i) => (i === null || i === undefined ? "—" : S[i]);
  const outcome = (p) => (p === true ? "passed" : p === false ? "failed" : "not graded");
  const cell = (tr, value, cls) => {
    const td = document.createElement("td"), div = document.createElement("div");
    div.className = cls;
    div.textContent = value;
    if (cls === "text") div.classList.add("clip");
    td.append(div);
    tr.append(td);
  };
  // A clipped cell keeps its clip and gets a "Show all" control only where the text is taller than the clip,
  // which depends on the column's width: measured once the rows are in the page and the section is open.
  const controls = () => {
    body.querySelectorAll(".text.clip:not(.open)").forEach((div) => {
      if (div.nextElementSibling || !div.clientHeight) return;
      if (div.scrollHeight <= div.clientHeight + 1) { div.classList.remove("clip"); return; }
      const button = document.createElement("button");
      button.type = "button";
      button.className = "expand";
      const lines = div.textContent.split("\n").length, n = (x) => x.toLocaleString("en-US");
      button.dataset.more = button.textContent = lines > 1 ? `Show all (${n(lines)} lines)` : `Show all (${n(div.textContent.length)} characters)`;
      button.setAttribute("aria-expanded", "false");
      div.after(button);
    });
  };
  const draw = () => {
    const pages = Math.max(1, Math.ceil(hits.length / PAGE));
    page = Math.min(Math.max(page, 0), pages - 1);
    const rows = hits.slice(page * PAGE, (page + 1) * PAGE).map((r) => {
      const tr = document.createElement("tr");
      cell(tr, text(r[0]) + "\n" + text(r[1]), "meta");
      cell(tr, text(r[2]), "meta");
      cell(tr, text(r[3]) + "\n" + outcome(r[4]), "meta");
      [r[10], r[5], r[6], r[7]].forEach((i) => cell(tr, text(i), "text"));
      cell(tr, text(r[8]) + (r[9] === null ? "" : "\nerror: " + S[r[9]]), "why");
      return tr;
    });
    body.replaceChildren(...rows);
    controls();
    const n = hits.length.toLocaleString("en-US");
    info.textContent = hits.length
      ? `Rows ${(page * PAGE + 1).toLocaleString("en-US")}–${(page * PAGE + rows.length).toLocaleString("en-US")} of ${n} · page ${page + 1} of ${pages}`
      : "No rows match these filters.";
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  };
  // Each filter's counts say how many rows that choice would show given the other filters as they are set.
  const recount = (active) => {
    selects.forEach((s) => {
      const col = Number(s.dataset.column), others = active.filter(([c]) => c !== col), counts = new Map();
      data.rows.forEach((r) => { if (others.every(([c, key]) => r[c] === key)) counts.set(r[col], (counts.get(r[col]) || 0) + 1); });
      [...s.options].forEach((o) => {
        if (o.value !== "") o.textContent = `${o.dataset.text} (${(counts.get(Number(o.value)) || 0).toLocaleString("en-US")})`;
      });
    });
  };
  const filter = () => {
    const active = selects.filter((s) => s.value !== "").map((s) => [Number(s.dataset.column), Number(s.value)]);
    hits = data.rows.filter((r) => active.every(([col, key]) => r[col] === key));
    page = 0;
    recount(active);
    draw();
  };
  selects.forEach((s) => s.addEventListener("change", filter));
  const section = body.closest("details");
  if (section) section.addEventListener("toggle", controls);
  prev.addEventListener("click", () => { page -= 1; draw(); });
  next.addEventListener("click", () => { page += 1; draw(); });
  draw();
})();
