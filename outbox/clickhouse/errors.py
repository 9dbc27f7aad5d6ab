"""Which ClickHouse failures are about the rows sent, and which are an outage.

An insert that ClickHouse refuses for its data (a value it cannot parse or convert, a type
that does not match, a constraint) will be refused again whatever the wait: the relay counts
a rejection and, after OUTBOX_MAX_ATTEMPTS of them, bisects the batch towards the poison
message. Anything else says nothing about the rows: too many parts, a memory limit, a
timeout, a proxy's 502 or a lost connection. The same insert may succeed later, so it only
backs off and never dead-letters a message.

clickhouse-connect gives the server's numeric code as `code` on its errors, from the HTTP
interface (the X-ClickHouse-Exception-Code header) and from chDB (read from the message)
alike; a proxy's answer carries no code, and the driver's own conversion errors (a value
that no column type holds) are its DataError.
"""

from clickhouse_connect.driver.exceptions import ClickHouseError, DataError, OperationalError

# ClickHouse's codes for rows it cannot take (errorCodeToName gives each name).
DATA_ERROR_CODES = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        25,  # CANNOT_PARSE_ESCAPE_SEQUENCE
        26,  # CANNOT_PARSE_QUOTED_STRING
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        38,  # CANNOT_PARSE_DATE
        41,  # CANNOT_PARSE_DATETIME
        53,  # TYPE_MISMATCH
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        117,  # INCORRECT_DATA
        131,  # TOO_LARGE_STRING_SIZE
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        349,  # CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
        376,  # CANNOT_PARSE_UUID
        377,  # ILLEGAL_SYNTAX_FOR_DATA_TYPE
        395,  # FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
        407,  # DECIMAL_OVERFLOW
        441,  # CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING
        467,  # CANNOT_PARSE_BOOL
        469,  # VIOLATED_CONSTRAINT
        632,  # UNEXPECTED_DATA_AFTER_PARSED_VALUE
    }
)


def is_data_error(error: ClickHouseError) -> bool:
    """Whether `error` refuses the rows an insert sent, so the same insert always fails."""
    return isinstance(error, DataError) or getattr(error, "code", None) in DATA_ERROR_CODES


def is_outage(error: ClickHouseError) -> bool:
    """Whether `error` says ClickHouse or the way to it is down, not what a statement asked.

    A lost connection or a timeout on the client's side, or an answer that carries no
    ClickHouse code (a proxy's 502 or 503), or one of the server's own troubles.
    """
    if isinstance(error, OperationalError):
        return True
    code = getattr(error, "code", None)
    return (code is None and not isinstance(error, DataError)) or code in OUTAGE_CODES


# Codes of a server in trouble, whatever the statement: a query that met one runs later.
OUTAGE_CODES = frozenset(
    {
        159,  # TIMEOUT_EXCEEDED
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES
        209,  # SOCKET_TIMEOUT
        210,  # NETWORK_ERROR
        241,  # MEMORY_LIMIT_EXCEEDED
        242,  # TABLE_IS_READ_ONLY
        252,  # TOO_MANY_PARTS
    }
)
