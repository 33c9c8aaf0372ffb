"""Strict fast paths for the two per-row contact validations of portfolio ingestion.

``phonenumbers`` and ``email-validator`` cost tens of microseconds a call, which is most of the
time spent validating a 1,000,000-row file. Almost every row holds a plain 10-digit Mexican
number and a plain ASCII address, so each fast path decides that common shape itself and answers
``None`` ("undecided") for everything else; the caller then runs the library as before::

    e164 = fast_e164(text, region) or normalize_phone(text, region)
    email = fast_email(text) or normalize_email(text)

Why they are exactly as strict as the libraries (never more lenient, never formatted differently):

``fast_e164`` accepts only ``[+]`` followed by ASCII digits and `` -.()`` separators (no letters,
``#``, ``;``, ``,``, ``x`` or ``/``, so phonenumbers finds no extension, RFC 3966 part, vanity
letters or second number, and its digits are exactly ours). It handles two shapes: the N-digit
national number, and the country code followed by the N digits (with ``+`` or without). What
phonenumbers' ``parse`` does with those shapes depends only on facts about the region's metadata
that ``_phone_rules`` checks when it compiles the region (the region is the only one of its
country code and no shorter prefix of that code is a country code, there is no national prefix
to strip, the general description has the single possible length N, and country code + N digits
is TOO_LONG rather than a local-only length); if any fact fails, the region gets no fast path.
(Mexico, N = 10, satisfies them, as do about 45 other regions in phonenumbers 9.0; the United
States, with its national prefix 1, does not.)
Under those facts ``parse`` keeps a valid N-digit number as national (it only strips a leading
country code from a number that is not viable or is too long), strips the country code from the
longer shape, and never takes an IDD prefix (we check the region's ``international_prefix``
does not match the digits). Validity is then ``phonenumberutil._number_type_helper(nsn) !=
UNKNOWN``, replicated from the same metadata: the general description's pattern and one of the
type descriptions (premium rate, toll free, shared cost, VoIP, personal, pager, UAN, voicemail,
fixed line, and mobile unless it shares the fixed-line pattern) whose possible lengths allow N.
A national number starting with 0 is left to the library (phonenumbers' "Italian leading zero").
E.164 is ``+`` country code + national number, which is what ``format_number`` writes.

``fast_email`` accepts only ``local@domain`` with a dot-atom local part of ASCII letters, digits
and ``_%+-`` (a subset of RFC 5322 atext, which email-validator returns unchanged) and a domain
of LDH labels (1-63 chars, no hyphen at either end, no ``--`` anywhere, so no Punycode or
R-LDH label) ending in an alphabetic TLD, with at most 64 characters before the ``@`` (the
library's strict-mode limit) and 254 in all. For such input the library's domain normalisation (UTS-46) is ASCII
lowercasing, and its only remaining rules are the special-use names (read from the library's
live ``SPECIAL_USE_DOMAIN_NAMES`` at call time, including subdomains; ``test`` is rejected even in
a test environment) and lowercasing RFC 2142 role mailboxes such as ``Postmaster``.
"""
from __future__ import annotations

import importlib
import re
from functools import lru_cache
from typing import NamedTuple

import email_validator
import phonenumbers

# The module, not the function the package exports under the same name: its globals are the
# role-mailbox names validate_email() lowercases.
_validate_email_module = importlib.import_module("email_validator.validate_email")

__all__ = ["fast_e164", "fast_email"]

# ------------------------------------------------------------------------------------ phones
_TYPE_DESCS = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
               "voicemail", "fixed_line", "mobile")


class _PhoneRules(NamedTuple):
    cc: str                   # country calling code, e.g. "52"
    length: int               # the one national significant number length, e.g. 10
    idd: re.Pattern[str]      # the region's international prefix
    valid: re.Pattern[str]    # the general description and any type description allowing `length`


@lru_cache(maxsize=None)
def _phone_rules(region: str) -> _PhoneRules | None:
    """The region's rules from phonenumbers' own metadata, or None if a shape assumption fails."""
    if region not in phonenumbers.SUPPORTED_REGIONS:
        return None
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.country_code is None or meta.general_desc is None:
        return None                                 # never for a supported region's metadata
    codes = phonenumbers.COUNTRY_CODE_TO_REGION_CODE
    cc = str(meta.country_code)
    general = meta.general_desc
    if (tuple(codes.get(meta.country_code, ())) != (region,)
            or any(int(cc[:i]) in codes for i in range(1, len(cc)))
            or meta.national_prefix_for_parsing
            or len(general.possible_length) != 1 or not general.national_number_pattern):
        return None
    (length,) = general.possible_length
    if length + len(cc) in general.possible_length_local_only:
        return None
    types = []
    for name in _TYPE_DESCS:
        desc = getattr(meta, name)
        if name == "mobile" and meta.same_mobile_and_fixed_line_pattern:
            continue                                # _number_type_helper never looks at it then
        if (desc is not None and desc.national_number_pattern
                and (not desc.possible_length or length in desc.possible_length)):
            types.append(desc.national_number_pattern)
    if not types or any(re.search(r"\\[1-9]|\(\?P", p) for p in (general.national_number_pattern, *types)):
        return None                                 # nothing to combine safely
    valid = f"(?=(?:{general.national_number_pattern})\\Z)(?:" + "|".join(f"(?:{p})" for p in types) + ")"
    try:
        return _PhoneRules(cc, length, re.compile(meta.international_prefix or "NonMatch"), re.compile(valid))
    except re.error:
        return None


def fast_e164(text: str, region: str) -> str | None:
    """E.164 form of a plainly written valid number, or None to let phonenumbers decide."""
    rules = _phone_rules(region)
    if rules is None or len(text) > 64:
        return None
    plus = text.startswith("+")
    digits = (text[1:] if plus else text).replace(" ", "").replace("-", "").replace(".", "")
    digits = digits.replace("(", "").replace(")", "")
    if not (digits.isdigit() and digits.isascii()):
        return None
    n, cc = rules.length, rules.cc
    if len(digits) == n + len(cc) and digits.startswith(cc) and (plus or not rules.idd.match(digits)):
        nsn = digits[len(cc):]
    elif len(digits) == n and not plus and not rules.idd.match(digits):
        nsn = digits
    else:
        return None
    if nsn[0] == "0" or not rules.valid.fullmatch(nsn):
        return None
    return f"+{cc}{nsn}"


# ------------------------------------------------------------------------------------ emails
_EMAIL = re.compile(
    r"([A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*)"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})")
_special: tuple[list[str], tuple[str, ...]] = ([], ())


def fast_email(text: str) -> str | None:
    """email-validator's normalized form of a plain ASCII address, or None to let it decide."""
    global _special
    m = _EMAIL.fullmatch(text)
    if m is None or len(text) > 254:
        return None
    local, domain = m.groups()
    domain = domain.lower()
    if len(local) > 64 or "--" in domain:
        return None
    names = email_validator.SPECIAL_USE_DOMAIN_NAMES
    if names != _special[0]:                        # first call, or the list was changed at runtime
        _special = (list(names), tuple("." + name for name in names))
    if ("." + domain).endswith(_special[1]):
        return None
    if local.lower() in _validate_email_module.CASE_INSENSITIVE_MAILBOX_NAMES:
        local = local.lower()
    return f"{local}@{domain}"
