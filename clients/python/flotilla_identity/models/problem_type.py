from enum import StrEnum


class ProblemType(StrEnum):
    URNFLOTILLAPROBLEMBAD_GATEWAY = "urn:flotilla:problem:bad-gateway"
    URNFLOTILLAPROBLEMCARD_DECLINED = "urn:flotilla:problem:card-declined"
    URNFLOTILLAPROBLEMCONFLICT = "urn:flotilla:problem:conflict"
    URNFLOTILLAPROBLEMFORBIDDEN = "urn:flotilla:problem:forbidden"
    URNFLOTILLAPROBLEMIDEMPOTENCY_KEY_REUSED = (
        "urn:flotilla:problem:idempotency-key-reused"
    )
    URNFLOTILLAPROBLEMINTERNAL = "urn:flotilla:problem:internal"
    URNFLOTILLAPROBLEMINVALID_PARAMETER = "urn:flotilla:problem:invalid-parameter"
    URNFLOTILLAPROBLEMMALFORMED_BODY = "urn:flotilla:problem:malformed-body"
    URNFLOTILLAPROBLEMMETHOD_NOT_ALLOWED = "urn:flotilla:problem:method-not-allowed"
    URNFLOTILLAPROBLEMNOT_FOUND = "urn:flotilla:problem:not-found"
    URNFLOTILLAPROBLEMOVERLOADED = "urn:flotilla:problem:overloaded"
    URNFLOTILLAPROBLEMPAYLOAD_TOO_LARGE = "urn:flotilla:problem:payload-too-large"
    URNFLOTILLAPROBLEMPRECONDITION_FAILED = "urn:flotilla:problem:precondition-failed"
    URNFLOTILLAPROBLEMPRECONDITION_REQUIRED = (
        "urn:flotilla:problem:precondition-required"
    )
    URNFLOTILLAPROBLEMRATE_LIMITED = "urn:flotilla:problem:rate-limited"
    URNFLOTILLAPROBLEMTIMEOUT = "urn:flotilla:problem:timeout"
    URNFLOTILLAPROBLEMUNAUTHENTICATED = "urn:flotilla:problem:unauthenticated"
    URNFLOTILLAPROBLEMUNAVAILABLE = "urn:flotilla:problem:unavailable"
    URNFLOTILLAPROBLEMUNSUPPORTED_MEDIA_TYPE = (
        "urn:flotilla:problem:unsupported-media-type"
    )
    URNFLOTILLAPROBLEMUPSTREAM_TIMEOUT = "urn:flotilla:problem:upstream-timeout"
    URNFLOTILLAPROBLEMVALIDATION = "urn:flotilla:problem:validation"

    def __str__(self) -> str:
        return str(self.value)
