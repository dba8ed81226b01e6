"""Import a team's traffic logs as a task suite: `import_traffic` is the API `evals import` calls."""

from evals.traffic.errors import TrafficImportError
from evals.traffic.importer import import_traffic
from evals.traffic.options import ImportOptions
from evals.traffic.report import ImportReport

__all__ = ["ImportOptions", "ImportReport", "TrafficImportError", "import_traffic"]
