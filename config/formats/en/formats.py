# Used by the `date` filter's SHORT_DATE_FORMAT and SHORT_DATETIME_FORMAT in the staff pages.
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
