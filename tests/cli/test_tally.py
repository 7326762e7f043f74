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


# m1 and m2 co-own flat 101 (its area on each of their rows); m5 rents 104 (no area).
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
    # Flat 101 counts once (89.5 m², one owner) however many co-owners it has; m5 owns
    # nothing there and counts only by headcount.
    votes = write(tmp_path / "votes.csv", "member_id,choice\nm1,for\nm2,for\nm3,for\nm4,against\n")
    data = ok(tally("--rule", "owners-major", "--roll", roll, "--votes", votes))
    area = data["tallies"]["area"]
    assert area["roll"] == {"exact": "1079/4", "decimal": "269.75"}
    assert (area["for"], area["against"]) == (
        {"exact": "419/2", "decimal": "209.50"},
        {"exact": "241/4", "decimal": "60.25"},
    )
    owners = data["tallies"]["owners"]
    assert (owners["roll"], owners["for"], owners["against"]) == (3, 2, 1)
    assert data["tallies"]["headcount"]["roll"] == 5
    assert data["quorum_met"] is True
    # area 209.5 of 269.75 reaches three quarters; 2 owners of 3 do not
    assert [c["met"] for c in data["pass_checks"]] == [True, False]
    assert data["outcome"] == "rejected"


def test_a_co_owner_who_does_not_vote_changes_nothing(tmp_path: Path) -> None:
    # The four flats of 100 m², three voting for: the spouse of the first flat on
    # the roll (not voting) is one more person, not one more owner or 100 m² more.
    roll = write(
        tmp_path / "roll.csv",
        "member_id,household,area\na,1,100\nb,2,100\nc,3,100\nd,4,100\nspouse,1,100.00\n",
    )
    votes = write(tmp_path / "votes.csv", "member_id,choice\na,for\nb,for\nc,for\n")
    data = ok(tally("--rule", "owners-ordinary", "--roll", roll, "--votes", votes))
    assert data["outcome"] == "passed"
    assert data["tallies"]["area"]["roll"] == 400
    assert data["tallies"]["owners"]["roll"] == 4
    assert data["tallies"]["headcount"]["roll"] == 5


def test_a_buyer_of_several_flats_is_one_owner_and_co_owners_vote_once(tmp_path: Path) -> None:
    # b bought flats 2 and 3 and co-owns 4 with c: flats 2, 3 and 4 are one owner (linked
    # through b), whose holders b (for) and c (against) disagree: it abstains; so does
    # flat 4's area. Flat 1 (a, for) is an owner of its own. b's home is its first row.
    roll = write(
        tmp_path / "roll.csv",
        "member_id,household,area\na,1,50\nb,2,60\nb,3,70\nc,4,80\nb,4,80\nt,2,\n",
    )
    votes = write(tmp_path / "votes.csv", "member_id,choice\na,for\nb,for\nc,against\n")
    data = ok(tally("--rule", "owners-ordinary", "--roll", roll, "--votes", votes))
    owners, area = data["tallies"]["owners"], data["tallies"]["area"]
    assert (owners["roll"], owners["for"], owners["against"], owners["abstain"]) == (2, 1, 0, 1)
    assert (area["roll"], area["for"], area["against"], area["abstain"]) == (260, 180, 0, 80)
    assert data["tallies"]["headcount"]["roll"] == 4
    rule = rule_on(tmp_path, "households")
    households = tally("--rule-file", rule, "--roll", roll, "--votes", votes)
    # homes: a in 1, b and the tenant t in 2, c in 4
    assert ok(households)["tallies"]["households"]["roll"] == 3


def rule_on(directory: Path, quantity: str) -> Path:
    """A rule file: more than half of the votes cast in ``quantity``."""
    path = directory / f"{quantity}.json"
    condition: dict[str, object] = {"quantity": quantity, "counted": "for", "base": "cast"}
    condition |= {"fraction": "1/2", "inclusive": False}
    path.write_text(json.dumps({"name": quantity, "passing": [condition]}), encoding="utf-8")
    return path


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


@pytest.mark.parametrize("header", ["id,household,area", "", "\ufeff"])
def test_a_roll_without_member_ids(tmp_path: Path, header: str) -> None:
    roll = write(tmp_path / "roll.csv", f"{header}\n" if header else "")
    votes = write(tmp_path / "votes.csv", "member_id,choice\n")
    bad(tally("--rule", "owners-ordinary", "--roll", roll, "--votes", votes), "roll.csv line 1")


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
    # m1 on households 1 and 3 owns two flats; on household 1 twice it is a mistake.
    roll = write(
        tmp_path / "roll.csv", "member_id,household,area\nm1,1,10\nm2,2,10\nm1,3,10\nm1,1,\n"
    )
    votes = write(tmp_path / "votes.csv", "member_id,choice\nm1,for\n")
    bad(
        tally("--rule", "simple", "--roll", roll, "--votes", votes),
        "line 5",
        "'m1'",
        "household '1'",
        "line 2",
    )


def test_a_flat_given_two_areas(tmp_path: Path) -> None:
    roll = write(
        tmp_path / "roll.csv", "member_id,household,area\nm1,101,89.5\nm2,101,\nm3,101,98.5\n"
    )
    votes = write(tmp_path / "votes.csv", "member_id,choice\nm1,for\n")
    message = bad(
        tally("--rule", "owners-ordinary", "--roll", roll, "--votes", votes),
        "roll.csv line 4",
        "flat '101'",
        "'98.5'",
        "'89.5' on line 2",
    )
    assert "co-owner" in message


def test_malformed_csv_names_its_line(tmp_path: Path) -> None:
    big = "x" * 200_000  # past the csv module's field size limit
    roll = write(tmp_path / "roll.csv", f"member_id,household,area\nm1,1,10\nm2,2,{big}\n")
    votes = write(tmp_path / "votes.csv", "member_id,choice\n")
    bad(tally("--rule", "simple", "--roll", roll, "--votes", votes), "roll.csv line 3", "CSV")


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
    roll.write_bytes("member_id,household,area\nm1,1,10\n张三,1,10\n".encode("gbk"))
    votes = write(tmp_path / "votes.csv", "member_id,choice\n")
    bad(tally("--rule", "simple", "--roll", roll, "--votes", votes), "UTF-8", "roll.csv line 3")


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
