"""Ready rules for secret scanners (gitleaks, trufflehog, GitHub custom patterns), so teams find
this console's keys and management tokens in their own repositories and CI.

Both formats are `<prefix>_` + 32 base62 random + 6 base62 checksum (services/key_format.py):
38 base62 characters after the underscore. The key prefix is the configured one
(`APIKEYS_KEY_PREFIX`); management tokens are always `bpm_`.
"""

from __future__ import annotations

import json
import re

from rxapp.services.key_format import CHECKSUM_LENGTH, RANDOM_LENGTH
from rxapp.services.tokens import TOKEN_PREFIX

FORMATS = ("gitleaks", "trufflehog", "github")
_BODY = f"[0-9A-Za-z]{{{RANDOM_LENGTH + CHECKSUM_LENGTH}}}"


def patterns(key_prefix: str) -> list[tuple[str, str, str, str, str]]:
    """(id, name, description, keyword, secret format) per kind of secret."""
    kinds = [
        ("keyconsole-api-key", "KeyConsoleApiKey", "Key Console API key", f"{key_prefix}_", ""),
        (
            "keyconsole-management-token",
            "KeyConsoleManagementToken",
            "Key Console management token",
            f"{TOKEN_PREFIX}_",
            "",
        ),
    ]
    return [(rule_id, name, text, word, re.escape(word) + _BODY) for rule_id, name, text, word, _ in kinds]


def render(kind: str, key_prefix: str) -> str:
    """The rules as the scanner reads them (gitleaks TOML, trufflehog YAML, GitHub JSON)."""
    rules = patterns(key_prefix)
    if kind == "gitleaks":
        return "\n".join(
            f'[[rules]]\nid = "{rule_id}"\ndescription = "{text}"\n'
            f"regex = '''\\b({regex})\\b'''\nkeywords = [\"{word}\"]\n"
            for rule_id, _name, text, word, regex in rules
        )
    if kind == "trufflehog":
        lines = ["detectors:"]
        for _rule_id, name, _text, word, regex in rules:
            lines += [f"  - name: {name}", "    keywords:", f"      - {word}"]
            lines += ["    regex:", f"      secret: '\\b({regex})\\b'"]
        return "\n".join(lines) + "\n"
    if kind == "github":
        return (
            json.dumps(
                [
                    {
                        "name": text,
                        "secret_format": regex,
                        "before_secret": r"\A|[^0-9A-Za-z_]",
                        "after_secret": r"\z|[^0-9A-Za-z]",
                    }
                    for _rule_id, _name, text, _word, regex in rules
                ],
                indent=2,
            )
            + "\n"
        )
    raise ValueError(f"unknown format {kind!r}: choose {', '.join(FORMATS)}")
