"""`yishi tally` end to end: CSV files in, JSON out, exit code 2 for bad input."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot import cli
from domain.rules import preset

REPO = Path(__file__).resolve().parents[2]


def tally(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``yishi tally`` in this process (the process itself is tested once, below)."""
    argv = ["tally", *map(str, args)]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as exit_:  # argparse's own refusals
            code = exit_.code if isinstance(exit_.code, int) else 2
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def tally_process(*args: str | Path, probe: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-c", PROCESS.format(probe=probe), "tally", *map(str, args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )


# The `yishi` entry point, and after it (when asked) the heavy libraries it loaded.
PROCESS = """
import sys
from bot.cli import main
code = main(sys.argv[1:])
heavy = ("telegram", "sqlalchemy", "apscheduler", "aiohttp", "psycopg", "alembic")
loaded = sorted({{name.split(".")[0] for name in sys.modules}} & set(heavy))
if {probe!r}:
    print("loaded:", ",".join(loaded), file=sys.stderr)
sys.exit(code)
"""


def write(path: Path, text: str, bom: bool = False) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def ok(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def bad(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode == 2, result.stdout
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    return message


ROLL = """member_id,household,area,name
m1,101,89.5,张三
m2,101,89.5,李四
m3,102,120,王五
m4,103,60.25,赵六
m5,104,,钱七
"""


@pytest.fixture
def roll(tmp_path: Path) -> Path:
    return write(tmp_path / "roll.csv", ROLL)


def test_the_process_answers_and_loads_no_bot_or_database_library(
    tmp_path: Path, roll: Path
) -> None:
    votes = write(tmp_path / "votes.csv", "member_id,choice\nm1,for\nm3,for\nm4,against\n")
    result = tally_process("--roll", roll, "--votes", votes, "--rule", "simple", probe="yes")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["outcome"] == "passed"
    assert result.stderr.strip() == "loaded:"
    refused = tally_process("--roll", roll, "--votes", tmp_path / "absent.csv")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr


def test_simple_passes_with_invalid_votes(tmp_path: Path, roll: Path) -> None:
    votes = write(
        tmp_path / "votes.csv",
        "member_id,choice\nm1,for\nm2,for\nm3,against\nm4,abstain\nstranger,for\nghost,against\n",
    )
    data = ok(tally("--rule", "simple", "--roll", roll, "--votes", votes))
    assert data["outcome"] == "passed"
    assert data["quorum_met"] is True
    assert data["invalid_votes"] == ["ghost", "stranger"]
    assert data["duplicate_votes"] == []
    assert data["tallies"]["headcount"] == {
        "roll": 5,
        "participants": 4,
        "for": 2,
        "against": 1,
        "abstain": 1,
        "cast": 3,
    }
    assert data["rule"] == preset("simple").to_dict()
    assert data["winner"] is None
    assert data["pass_checks"][0]["met"] is True


def test_owners_rule_with_area_figures(tmp_path: Path, roll: Path) -> None:
    votes = write(tmp_path / "votes.csv", "member_id,choice\nm1,for\nm2,for\nm3,for\nm4,against\n")
    data = ok(tally("--rule", "owners-major", "--roll", roll, "--votes", votes))
    area = data["tallies"]["area"]
    assert area["roll"] == {"exact": "1437/4", "decimal": "359.25"}
    assert area["for"] == 299
    assert data["quorum_met"] is True
    # headcount 3 of 4 participants: exactly three quarters
    assert data["pass_checks"][1]["met"] is True
    assert data["outcome"] == "passed"


def test_chinese_choices_bom_and_free_header_order(tmp_path: Path) -> None:
    roll = write(
        tmp_path / "roll.csv",
        "姓名备注,area,member_id,household\nx,10,甲,\ny,10,乙,\nz,10,丙,\n",
        bom=True,
    )
    votes = write(
        tmp_path / "votes.csv",
        "choice,member_id\n 赞成 ,甲\n反对,乙\n弃权,丙\n",
        bom=True,
    )
    data = ok(tally("--rule", "simple", "--roll", roll, "--votes", votes))
    assert data["outcome"] == "tied"
    counts = data["tallies"]["headcount"]
    assert (counts["for"], counts["against"], counts["abstain"]) == (1, 1, 1)
    assert data["invalid_votes"] == []


def test_english_choices_case_insensitive(tmp_path: Path, roll: Path) -> None:
    votes = write(tmp_path / "votes.csv", "member_id,choice\nm1,FOR\nm2, For\nm3,Against\n")
    data = ok(tally("--rule", "two-thirds", "--roll", roll, "--votes", votes))
    assert data["outcome"] == "passed"


def test_no_quorum(tmp_path: Path, roll: Path) -> None:
    votes = write(tmp_path / "votes.csv", "member_id,choice\nm1,for\nm2,for\n")
    data = ok(tally("--rule", "residents-meeting", "--roll", roll, "--votes", votes))
    assert data["outcome"] == "no_quorum"
    assert data["quorum_met"] is False


def test_identical_duplicates_counted_once(tmp_path: Path, roll: Path) -> None:
    votes = write(
        tmp_path / "votes.csv",
        "member_id,choice\nm1,for\nm1,赞成\nm2,against\nm3,for\nm2,against\n",
    )
    data = ok(tally("--rule", "simple", "--roll", roll, "--votes", votes))
    assert data["duplicate_votes"] == ["m1", "m2"]
    assert data["tallies"]["headcount"]["for"] == 2
    assert data["tallies"]["headcount"]["against"] == 1


def test_conflicting_duplicates_exit_2(tmp_path: Path, roll: Path) -> None:
    votes = write(
        tmp_path / "votes.csv", "member_id,choice\nm1,for\nm2,for\nm1,against\nm3,for\nm2,弃权\n"
    )
    message = bad(tally("--rule", "simple", "--roll", roll, "--votes", votes), "m1", "m2")
    assert "conflicting" in message


def test_options_ballot(tmp_path: Path, roll: Path) -> None:
    votes = write(
        tmp_path / "votes.csv", "member_id,choice\nm1,东门\nm2,东门\nm3,西门\nm4,东门\nm5,弃权\n"
    )
    data = ok(
        tally("--rule", "simple", "--roll", roll, "--votes", votes, "--options", "东门，西门,南门")
    )
    assert data["outcome"] == "passed"
    assert data["winner"] == "东门"
    assert data["option_totals"] == {
        "东门": {"headcount": 3},
        "西门": {"headcount": 1},
        "南门": {"headcount": 0},
    }
    assert (
        "东门"
        in tally(
            "--rule", "simple", "--roll", roll, "--votes", votes, "--options", "东门,西门,南门"
        ).stdout
    )


def test_options_tie(tmp_path: Path, roll: Path) -> None:
    votes = write(tmp_path / "votes.csv", "member_id,choice\nm1,a\nm2,B\n")
    data = ok(tally("--rule", "simple", "--roll", roll, "--votes", votes, "--options", "A,B"))
    assert data["outcome"] == "tied"
    assert data["winner"] is None


def test_rule_file(tmp_path: Path, roll: Path) -> None:
    rule = {
        "name": "custom",
        "quorum": [
            {
                "quantity": "households",
                "counted": "participants",
                "base": "roll",
                "fraction": "1/2",
                "inclusive": False,
            }
        ],
        "passing": [
            {
                "quantity": "households",
                "counted": "for",
                "base": "cast",
                "fraction": "1/2",
                "inclusive": False,
            }
        ],
    }
    rule_file = tmp_path / "rule.json"
    rule_file.write_text(json.dumps(rule), encoding="utf-8")
    # household 101 is split (m1 for, m2 against): it takes part and abstains.
    votes = write(tmp_path / "votes.csv", "member_id,choice\nm1,for\nm2,against\nm3,for\n")
    data = ok(tally("--rule-file", rule_file, "--roll", roll, "--votes", votes))
    households = data["tallies"]["households"]
    assert households == {
        "roll": 4,
        "participants": 2,
        "for": 1,
        "against": 0,
        "abstain": 1,
        "cast": 1,
    }
    assert data["outcome"] == "no_quorum"  # 2 of 4 households is not more than half
    assert data["rule"] == rule


def test_household_defaults_to_member_id(tmp_path: Path) -> None:
    roll = write(tmp_path / "roll.csv", "member_id\na\nb\n")
    votes = write(tmp_path / "votes.csv", "member_id,choice\na,for\nb,for\n")
    data = ok(tally("--rule", "consensus", "--roll", roll, "--votes", votes))
    assert data["outcome"] == "passed"


# --- bad input: exit 2, one clear line, no traceback ----------------------------------


def test_unknown_preset_lists_valid_ones(tmp_path: Path, roll: Path) -> None:
    votes = write(tmp_path / "votes.csv", "member_id,choice\n")
    bad(
        tally("--rule", "majority", "--roll", roll, "--votes", votes),
        "majority",
        "simple, two-thirds, residents-meeting, owners-ordinary, owners-major, consensus",
    )


def test_missing_file(tmp_path: Path, roll: Path) -> None:
    bad(
        tally("--rule", "simple", "--roll", roll, "--votes", tmp_path / "nope.csv"),
        "not found",
        "nope.csv",
    )


def test_missing_column(tmp_path: Path, roll: Path) -> None:
    votes = write(tmp_path / "votes.csv", "member_id,vote\nm1,for\n")
    bad(tally("--rule", "simple", "--roll", roll, "--votes", votes), "choice", "votes.csv")


def test_missing_area_column_for_an_area_rule(tmp_path: Path) -> None:
    roll = write(tmp_path / "roll.csv", "member_id,household\nm1,1\n")
    votes = write(tmp_path / "votes.csv", "member_id,choice\nm1,for\n")
    bad(tally("--rule", "owners-ordinary", "--roll", roll, "--votes", votes), "area")
    ok(tally("--rule", "simple", "--roll", roll, "--votes", votes))


@pytest.mark.parametrize("area", ["abc", "-3", "NaN", "1,5"])
def test_bad_area_with_line_number(tmp_path: Path, area: str) -> None:
    roll = write(tmp_path / "roll.csv", f'member_id,household,area\nm1,1,10\nm2,2,"{area}"\n')
    votes = write(tmp_path / "votes.csv", "member_id,choice\nm1,for\n")
    bad(
        tally("--rule", "owners-ordinary", "--roll", roll, "--votes", votes),
        "line 3",
        area,
    )


def test_duplicate_member_in_roll(tmp_path: Path) -> None:
    roll = write(tmp_path / "roll.csv", "member_id,household,area\nm1,1,10\nm2,2,10\nm1,3,10\n")
    votes = write(tmp_path / "votes.csv", "member_id,choice\nm1,for\n")
    bad(tally("--rule", "simple", "--roll", roll, "--votes", votes), "m1", "line 4", "line 2")


def test_unknown_choice(tmp_path: Path, roll: Path) -> None:
    votes = write(tmp_path / "votes.csv", "member_id,choice\nm1,for\nm2,yes\n")
    bad(tally("--rule", "simple", "--roll", roll, "--votes", votes), "line 3", "yes")


def test_option_key_without_options(tmp_path: Path, roll: Path) -> None:
    votes = write(tmp_path / "votes.csv", "member_id,choice\nm1,A\n")
    bad(tally("--rule", "simple", "--roll", roll, "--votes", votes), "'A'")


def test_motion_word_in_options_ballot(tmp_path: Path, roll: Path) -> None:
    votes = write(tmp_path / "votes.csv", "member_id,choice\nm1,for\n")
    bad(
        tally("--rule", "simple", "--roll", roll, "--votes", votes, "--options", "A,B"),
        "line 2",
        "A, B",
    )


@pytest.mark.parametrize("options", ["A", "A,A", "A,,B", "A,弃权"])
def test_bad_options(tmp_path: Path, roll: Path, options: str) -> None:
    votes = write(tmp_path / "votes.csv", "member_id,choice\n")
    bad(tally("--rule", "simple", "--roll", roll, "--votes", votes, "--options", options))


def test_not_utf8(tmp_path: Path) -> None:
    roll = tmp_path / "roll.csv"
    roll.write_bytes("member_id,household,area\n张三,1,10\n".encode("gbk"))
    votes = write(tmp_path / "votes.csv", "member_id,choice\n")
    bad(tally("--rule", "simple", "--roll", roll, "--votes", votes), "UTF-8")


def test_bad_rule_file(tmp_path: Path, roll: Path) -> None:
    votes = write(tmp_path / "votes.csv", "member_id,choice\n")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    bad(tally("--rule-file", broken, "--roll", roll, "--votes", votes), "invalid JSON")
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps({"name": "x", "passing": []}), encoding="utf-8")
    bad(tally("--rule-file", invalid, "--roll", roll, "--votes", votes), "passing condition")
    bad(tally("--rule-file", tmp_path / "missing.json", "--roll", roll, "--votes", votes))


def test_rule_and_rule_file_are_exclusive(tmp_path: Path, roll: Path) -> None:
    votes = write(tmp_path / "votes.csv", "member_id,choice\n")
    result = tally("--rule", "simple", "--rule-file", "x.json", "--roll", roll, "--votes", votes)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
