"""Contains all the data models used in inputs/outputs"""

from .check_result import CheckResult
from .field_violation import FieldViolation
from .livez_response_200 import LivezResponse200
from .problem import Problem
from .problem_type import ProblemType
from .readiness_report import ReadinessReport
from .registration import Registration
from .span_view import SpanView
from .span_view_attributes import SpanViewAttributes
from .trace import Trace
from .trace_list import TraceList
from .trace_summary import TraceSummary
from .user_response import UserResponse
from .version_info import VersionInfo

__all__ = (
    "CheckResult",
    "FieldViolation",
    "LivezResponse200",
    "Problem",
    "ProblemType",
    "ReadinessReport",
    "Registration",
    "SpanView",
    "SpanViewAttributes",
    "Trace",
    "TraceList",
    "TraceSummary",
    "UserResponse",
    "VersionInfo",
)
