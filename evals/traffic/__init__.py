"""Import a team's traffic logs as a task suite: `import_traffic` is the API `evals import` calls."""

from typing import TYPE_CHECKING

from evals import lazy_exports

if TYPE_CHECKING:
    from evals.traffic.errors import TrafficImportError
    from evals.traffic.importer import import_traffic
    from evals.traffic.options import ImportOptions
    from evals.traffic.report import ImportReport

__all__ = ["ImportOptions", "ImportReport", "TrafficImportError", "import_traffic"]
# The readers load pandas and pyarrow; only `evals import` needs them.
__getattr__ = lazy_exports(__name__, {
    "ImportOptions": "evals.traffic.options", "ImportReport": "evals.traffic.report",
    "TrafficImportError": "evals.traffic.errors", "import_traffic": "evals.traffic.importer",
})
