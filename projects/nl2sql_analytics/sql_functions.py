"""Which SQL functions a generated query may call, per dialect: an allow-list, plus a deny-list for clear errors.

A deny-list alone is weak (PostgreSQL extensions add new side-effecting functions every release), so a
function is accepted only if its name, as the target database will see it, is listed here as pure and
read-only. The deny-list exists to answer "forbidden" rather than "unknown" for the well-known dangerous
ones (sleep, file and large-object access, sequences, settings, remote connections, extension loading).
"""

from __future__ import annotations

import re

_COMMON = """
abs avg cast coalesce count max min nullif round sum total length lower upper trim ltrim rtrim replace substr
substring instr ifnull iif nvl greatest least sign exp ln log log10 power pow sqrt floor ceil ceiling mod
row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value
date time datetime julianday strftime unixepoch extract date_trunc date_part to_char to_date to_timestamp now
current_date current_time current_timestamp localtime localtimestamp age justify_days justify_hours make_date
make_timestamp make_interval concat concat_ws lpad rpad left right reverse repeat position strpos split_part
initcap translate char_length character_length octet_length chr ascii md5 format quote_literal quote_ident
string_agg group_concat array_agg array_length array_to_string unnest cardinality bool_and bool_or every
stddev stddev_pop stddev_samp variance var_pop var_samp corr covar_pop covar_samp regr_slope regr_intercept
percentile_cont percentile_disc mode median trunc truncate radians degrees pi sin cos tan asin acos atan atan2
cot div width_bucket generate_series json_extract json_array_length json_each json_tree json_object json_array
json_type json_valid json json_group_array json_group_object jsonb_array_elements json_array_elements
jsonb_each json_object_keys jsonb_object_keys jsonb_extract_path json_extract_path jsonb_extract_path_text
json_extract_path_text to_json to_jsonb jsonb_build_object json_build_object jsonb_typeof json_typeof
regexp_replace regexp_matches regexp_match regexp_split_to_array regexp_like starts_with like glob
hex unhex typeof printf quote soundex char unicode zeroblob likelihood likely unlikely
isfinite date_bin timezone to_number array_position array_remove string_to_array array_cat
filter row cast_to try_cast epoch exists any all some array grouping overlay collate random bit_length
string_to_table array_upper array_lower trim_array
"""

_DENY_EXACT = """
sleep pg_sleep pg_sleep_for pg_sleep_until load_extension writefile readfile edit fts3_tokenizer randomblob
set_config current_setting nextval setval currval lastval lo_import lo_export lo_open lo_create lo_unlink
lo_from_bytea lo_put lo_get dblink dblink_exec dblink_connect query_to_xml query_to_xml_and_xmlschema
table_to_xml database_to_xml cursor_to_xml schema_to_xml txid_current pg_read_file pg_read_binary_file
pg_ls_dir pg_stat_file pg_terminate_backend pg_cancel_backend pg_reload_conf pg_advisory_lock
pg_notify copy_to copy_from sqlite_compileoption_get sqlite_offset changes last_insert_rowid total_changes
"""

ALLOWED: dict[str, frozenset[str]] = {
    "sqlite": frozenset(_COMMON.split()),
    "postgres": frozenset(_COMMON.split()),
}
_DENY = frozenset(_DENY_EXACT.split())
_DENY_PREFIXES = ("pg_", "lo_", "dblink", "pragma_", "sqlite_", "fts", "xpath", "txid_", "set_", "file", "read_")

_CALL_NAME = re.compile(r'^\s*"?([A-Za-z_][A-Za-z0-9_$]*)"?\s*\(')


def call_name(rendered: str) -> str | None:
    """The function a rendered call invokes (``UPPER(x)`` → ``upper``); None for operators, CASE, literals."""
    match = _CALL_NAME.match(rendered)
    return match.group(1).lower() if match else None


def is_denied(name: str) -> bool:
    name = name.lower()
    return name in _DENY or name.startswith(_DENY_PREFIXES)


def is_allowed(name: str, dialect: str) -> bool:
    name = name.lower()
    return not is_denied(name) and name in ALLOWED.get(dialect, frozenset())
