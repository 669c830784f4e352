"""Human review over the run store: raters judge sampled outputs, and their verdicts calibrate
the automatic judges.

:mod:`~promptcheck.review.items` decides what a rater is shown and in which order;
:mod:`~promptcheck.review.figures` turns ratings into human labels, rates and agreement;
:mod:`~promptcheck.review.calibration` sets each judge against the labels and applies the floor;
:mod:`~promptcheck.review.workspace` is the review over one store, which
:mod:`~promptcheck.review.app` serves as a web app (:mod:`~promptcheck.review.auth` for raters
and sessions, :mod:`~promptcheck.review.pages` for the templates, :mod:`~promptcheck.review.server`
to run it) and :mod:`~promptcheck.review.transfer` writes to and reads from files. See
docs/review.md.
"""

from promptcheck.review.calibration import CalibrationRow, record_calibration, store_calibration
from promptcheck.review.workspace import LockCheck, ReviewWorkspace, SetOverview

__all__ = [
    "CalibrationRow",
    "LockCheck",
    "ReviewWorkspace",
    "SetOverview",
    "record_calibration",
    "store_calibration",
]
