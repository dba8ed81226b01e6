// Failure explorer: filters and pages the rows embedded as JSON. Text goes in with textContent only.
"use strict";
(() => {
  const data = JSON.parse(document.getElementById("rows").textContent);
  const body = document.getElementById("fx-body");
  if (!body) return;
  const S = data.strings, PAGE = 50;
  const selects = [...document.querySelectorAll("select[data-column]")];
  const info = document.getElementById("fx-info"), prev = document.getElementById("fx-prev"), next = document.getElementById("fx-next");
  let hits = data.rows, page = 0;
  const text = (i) => (i === null ? "—" : S[i]);
  const outcome = (p) => (p === true ? "passed" : p === false ? "failed" : "not graded");
  const cell = (tr, value, cls) => {
    const td = document.createElement("td"), div = document.createElement("div");
    div.className = cls;
    div.textContent = value;
    td.append(div);
    tr.append(td);
  };
  const draw = () => {
    const pages = Math.max(1, Math.ceil(hits.length / PAGE));
    page = Math.min(Math.max(page, 0), pages - 1);
    const rows = hits.slice(page * PAGE, (page + 1) * PAGE).map((r) => {
      const tr = document.createElement("tr");
      cell(tr, text(r[0]) + "\n" + text(r[1]), "meta");
      cell(tr, text(r[2]), "meta");
      cell(tr, text(r[3]) + "\n" + outcome(r[4]), "meta");
      [r[5], r[6], r[7]].forEach((i) => cell(tr, text(i), "out"));
      cell(tr, text(r[8]) + (r[9] === null ? "" : "\nerror: " + S[r[9]]), "why");
      return tr;
    });
    body.replaceChildren(...rows);
    info.textContent = hits.length
      ? `Rows ${page * PAGE + 1}–${page * PAGE + rows.length} of ${hits.length} · page ${page + 1} of ${pages}`
      : "No rows match these filters.";
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  };
  const filter = () => {
    const active = selects.filter((s) => s.value !== "").map((s) => [Number(s.dataset.column), Number(s.value)]);
    hits = data.rows.filter((r) => active.every(([col, key]) => r[col] === key));
    page = 0;
    draw();
  };
  selects.forEach((s) => s.addEventListener("change", filter));
  prev.addEventListener("click", () => { page -= 1; draw(); });
  next.addEventListener("click", () => { page += 1; draw(); });
  draw();
})();
