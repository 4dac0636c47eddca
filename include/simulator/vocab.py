"""Word lists for the synthetic people and ticket texts.

Names are deliberately common and emails use the reserved `example.com` domain, so nothing generated can be a
real person's contact detail even though the columns are treated as PII downstream.
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan "
    "Joseph Jessica Thomas Sarah Carlos Karen Daniel Lisa Matthew Nancy Anthony Sandra Mark Ashley Wei "
    "Priya Steven Emily Andrew Donna Kevin Michelle Brian Aisha Luis Olivia"
)
LAST_NAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark "
    "Ramirez Lewis Robinson Walker Young Allen King Wright Scott Nguyen Hill Patel O'Brien"
)

CITIES: tuple[tuple[str, str, float], ...] = (
    ("New York", "212", 0.16),
    ("Los Angeles", "213", 0.11),
    ("Chicago", "312", 0.09),
    ("Houston", "713", 0.08),
    ("Dallas", "214", 0.06),
    ("Austin", "512", 0.06),
    ("Miami", "305", 0.06),
    ("Seattle", "206", 0.06),
    ("San Diego", "619", 0.05),
    ("Atlanta", "404", 0.05),
    ("Phoenix", "602", 0.05),
    ("Philadelphia", "215", 0.05),
    ("Boston", "617", 0.04),
    ("Denver", "303", 0.04),
    ("San Antonio", "210", 0.04),
)
"""(city, area code, share of customers)."""

SUBJECTS_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    "TC01": ("Cannot log in", "Locked out of my account", "Login code never arrives, please help"),
    "TC02": ("Transfer not received", "Payment pending for days", 'Charged twice, "pending" forever'),
    "TC03": ("Loan application status", "Documents rejected, no reason given", "Question about my loan offer"),
    "TC04": ("Card declined", "Card has not arrived", "Need to replace damaged card"),
    "TC05": ("Verification failed", "Cannot verify my identity", "Address proof keeps failing"),
    "TC06": ("App is very slow", "App keeps crashing", "Screen stuck on loading"),
    "TC07": ("Cannot download statement", "Update my address", "Change phone number on account"),
    "TC08": ("Unrecognised transaction", "Suspicious activity alert", "Someone used my card, please block it"),
}

SUBJECTS_BY_V12_CAUSE: dict[str, tuple[str, ...]] = {
    "RC018": ("Face ID login loops since update", "Stuck on login screen after update"),
    "RC019": ("Payment confirmation times out", "Payment sent but app shows error"),
    "RC020": ("Loan application crashes when I submit", "App closes on loan form, lost my data"),
    "RC021": ("Repayment dates are wrong", "Repayment amount changed after update"),
    "RC022": ("Balance screen freezes after transfer", "App frozen after sending money"),
}
