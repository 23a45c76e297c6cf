"""Print the "Every error message" section of docs/data-format.md: each case's files and the message cohortode gives.

Run ``python scripts/data_error_examples.py > /tmp/section.md`` and paste it between the markers of
``docs/data-format.md``; ``tests/test_docs.py`` checks that the page shows what the code says today.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

OBS_HEADER = "cohort,time,observable,mean,sd,n\n"
GOOD = OBS_HEADER + "a,0,conc,0.1,0.2,12\na,1,conc,7.9,1.7,12\na,2,conc,7.1,1.5,12\n"
DOSE = "cohort,time,amount,target\na,0,4.6,depot\n"

#: (title, files, how to load): files are name -> text; ``dir`` loads the folder (cohort.toml), ``csv`` obs.csv.
CASES: list[tuple[str, dict[str, str], str]] = [
    ("A required column is missing", {"obs.csv": "cohort,time,observable,mean,sd\na,0,conc,0.1,0.2\n"}, "csv"),
    ("A value is not a number", {"obs.csv": OBS_HEADER + "a,0,conc,0.1,0.2,12\na,1,conc,abc,1.7,12\n"}, "csv"),
    ("An empty cell", {"obs.csv": OBS_HEADER + "a,0,conc,0.1,0.2,12\na,1,conc,,1.7,12\n"}, "csv"),
    ("An infinite value", {"obs.csv": OBS_HEADER + "a,0,conc,inf,0.2,12\n"}, "csv"),
    ("A negative time", {"obs.csv": OBS_HEADER + "a,-1,conc,0.1,0.2,12\n"}, "csv"),
    ("n is not a whole number", {"obs.csv": OBS_HEADER + "a,0,conc,0.1,0.2,11.5\n"}, "csv"),
    ("n below 1", {"obs.csv": OBS_HEADER + "a,0,conc,0.1,0.2,0\n"}, "csv"),
    ("An SD for a single subject", {"obs.csv": OBS_HEADER + "a,0,conc,0.1,0.2,1\n"}, "csv"),
    ("A missing SD", {"obs.csv": OBS_HEADER + "a,0,conc,0.1,0.2,12\na,1,conc,7.9,,12\n"}, "csv"),
    ("A negative SD", {"obs.csv": OBS_HEADER + "a,0,conc,0.1,-0.2,12\n"}, "csv"),
    ("Two spreads", {"obs.csv": "cohort,time,observable,mean,sd,se,n\na,0,conc,0.1,0.2,0.05,12\n"}, "csv"),
    ("A repeated time point", {"obs.csv": OBS_HEADER + "a,1,conc,0.1,0.2,12\na,1,conc,7.9,1.7,12\n"}, "csv"),
    ("No data rows", {"obs.csv": OBS_HEADER}, "csv"),
    ("An empty cohort name", {"obs.csv": OBS_HEADER + ",0,conc,0.1,0.2,12\n"}, "csv"),
    ("A negative dose", {"obs.csv": GOOD, "dosing.csv": "cohort,time,amount,target\na,0,-4.6,depot\n"}, "csv"),
    ("A dose for an unknown cohort", {"obs.csv": GOOD, "dosing.csv": DOSE + "b,0,4.6,depot\n"}, "csv"),
    ("Covariates given twice", {"obs.csv": GOOD, "covariates.csv": "cohort,weight\na,70\na,71\n"}, "csv"),
    ("Covariates of an unknown cohort", {"obs.csv": GOOD, "covariates.csv": "cohort,weight\nb,70\n"}, "csv"),
    ("A misspelled key in cohort.toml", {"observations.csv": GOOD, "cohort.toml": 'name = "a"\ntime_units = "h"\n'},
     "dir"),
    ("A file named in cohort.toml is missing",
     {"observations.csv": GOOD, "cohort.toml": '[files]\nobservations = "observations.csv"\ndosing = "doses.csv"\n'},
     "dir"),
    ("A missing file", {}, "csv"),
    ("A zero SD (a warning, not an error)", {"obs.csv": OBS_HEADER + "a,0,conc,0.0,0.0,12\na,1,conc,7.9,1.7,12\n"},
     "csv"),
]


def run_case(files: dict[str, str], how: str) -> str:
    """The message (or warning) cohortode gives for these files, with paths relative to their folder."""
    from cohortode import CohortData, CohortDataError

    with tempfile.TemporaryDirectory() as tmp:
        for name, text in files.items():
            Path(tmp, name).write_text(text)
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if how == "dir":
                    CohortData.from_directory(".")
                else:
                    CohortData.from_csv("obs.csv", dosing="dosing.csv" if "dosing.csv" in files else None,
                                        covariates="covariates.csv" if "covariates.csv" in files else None)
            if caught:
                return f"CohortDataWarning: {caught[0].message}"
            return "no error"
        except CohortDataError as exc:
            return f"CohortDataError: {exc}"
        finally:
            os.chdir(cwd)


def section() -> str:
    out = []
    for title, files, how in CASES:
        out.append(f"### {title}\n")
        for name, text in files.items():
            out.append(f"`{name}`:\n\n```\n{text.rstrip()}\n```\n")
        call = 'CohortData.from_directory(".")' if how == "dir" else "CohortData.from_csv(\"obs.csv\", ...)"
        out.append(f"`{call}` gives:\n\n```\n{run_case(files, how)}\n```\n")
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(section())
