"""Contains all the data models used in inputs/outputs"""

from .affected import Affected
from .bulk_selection_type_0 import BulkSelectionType0
from .bulk_selection_type_1 import BulkSelectionType1
from .category import Category
from .check_result import CheckResult
from .dead_letter import DeadLetter
from .dead_letter_headers import DeadLetterHeaders
from .event_schema_response_200 import EventSchemaResponse200
from .field_violation import FieldViolation
from .livez_response_200 import LivezResponse200
from .price import Price
from .price_currency import PriceCurrency
from .problem import Problem
from .problem_type import ProblemType
from .product_page import ProductPage
from .product_request import ProductRequest
from .product_request_attributes import ProductRequestAttributes
from .product_response import ProductResponse
from .product_response_attributes import ProductResponseAttributes
from .published_event import PublishedEvent
from .readiness_report import ReadinessReport
from .span_view import SpanView
from .span_view_attributes import SpanViewAttributes
from .trace import Trace
from .trace_list import TraceList
from .trace_summary import TraceSummary
from .version_info import VersionInfo

__all__ = (
    "Affected",
    "BulkSelectionType0",
    "BulkSelectionType1",
    "Category",
    "CheckResult",
    "DeadLetter",
    "DeadLetterHeaders",
    "EventSchemaResponse200",
    "FieldViolation",
    "LivezResponse200",
    "Price",
    "PriceCurrency",
    "Problem",
    "ProblemType",
    "ProductPage",
    "ProductRequest",
    "ProductRequestAttributes",
    "ProductResponse",
    "ProductResponseAttributes",
    "PublishedEvent",
    "ReadinessReport",
    "SpanView",
    "SpanViewAttributes",
    "Trace",
    "TraceList",
    "TraceSummary",
    "VersionInfo",
)
