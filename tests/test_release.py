"""The student release: generated from the source by nbgrader, committed, current, and free of answers."""

import pathlib
import re
import subprocess
import sys

import nbformat
import pytest

from autograder import assignment
from autograder.assignment import SOLUTION_IDS
from autograder.authoring import checks
from autograder.release import generate as release
from autograder.release.course import RELEASE_NOTEBOOK, SOURCE_NOTEBOOK
from tests.notebook_runner import runnable_copy

REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)
TEST_IDS = tuple(assignment.tests())


def nbgrader_meta(cell):
    return cell.metadata.get("nbgrader", {})


@pytest.fixture(scope="module")
def source():
    return nbformat.read(SOURCE_NOTEBOOK, as_version=4)


@pytest.fixture(scope="module")
def student():
    return nbformat.read(RELEASE_NOTEBOOK, as_version=4)


def test_release_and_inlined_cells_are_current():
    stale = release.release(check=True)
    assert stale == [], f"run `python -m autograder release`; stale: {stale}"


def test_release_contains_no_solution_or_hidden_test_line(source):
    secret_lines, public_text = (
        {line.strip() for line in pathlib.Path(checks.__file__).read_text().splitlines() if len(line.strip()) >= 12},
        [],
    )  # the hidden checks
    for cell in source.cells:
        for _, body in REGION.findall(cell.source):
            secret_lines |= {line.strip() for line in body.splitlines() if len(line.strip()) >= 12}
        public_text.append(REGION.sub("", cell.source))
    public = "\n".join(public_text)
    secret_lines = {line for line in secret_lines if line not in public}
    released = RELEASE_NOTEBOOK.read_text()
    assert len(secret_lines) > 100, "the solutions and the hidden checks should give lines to check against"
    leaked = sorted(line for line in secret_lines if line in released or line.replace('"', '\\"') in released)
    assert leaked == [], f"the release leaks {len(leaked)} lines, e.g. {leaked[:3]}"
    assert "BEGIN SOLUTION" not in released and "HIDDEN TESTS" not in released


def test_every_part_has_its_solution_cell_and_tests(source, student):
    for notebook in (source, student):
        solution_ids = [nbgrader_meta(c).get("grade_id") for c in notebook.cells if nbgrader_meta(c).get("solution")]
        test_ids = [nbgrader_meta(c).get("grade_id") for c in notebook.cells if nbgrader_meta(c).get("grade")]
        assert tuple(solution_ids) == SOLUTION_IDS and tuple(test_ids) == TEST_IDS
    points = sum(nbgrader_meta(c)["points"] for c in student.cells if nbgrader_meta(c).get("grade"))
    assert points == 100
    stubs = [c for c in student.cells if nbgrader_meta(c).get("solution")]
    assert all("raise NotImplementedError()" in c.source for c in stubs)


def test_cell_ids_are_stable_and_readable(source, student):
    assert [c.id for c in student.cells] == [c.id for c in source.cells]
    assert len({c.id for c in source.cells}) == len(source.cells)
    assert all(re.fullmatch(r"[a-z0-9-]+", c.id) for c in source.cells)


def test_release_is_colab_ready(student):
    assert student.metadata["accelerator"] == "GPU" and "colab" in student.metadata
    code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    assert not re.search(r"^\s*(from|import) (data|lesson|solutions|autograder)\b", code, re.M), (
        "the release must not import the repository's packages: Colab has only the notebook"
    )
    assert "../" not in code and "/work/" not in code
    assert all(
        not c.get("outputs") and c.get("execution_count") is None for c in student.cells if c.cell_type == "code"
    )


def test_the_self_check_cells_are_light_and_their_generated_data_apart(student):
    cells = {cell.id: cell.source for cell in student.cells}
    carried = {
        cell_id: cells[cell_id]
        for cell_id in ("fingerprint-module", "trace-module", "locate-module", "selfcheck-module")
    }
    assert len(cells["selfcheck-module"].encode()) <= 30_000
    assert cells["selfcheck-prints"].splitlines()[-1] == '"""))' and "use_prints(unpack(" in cells["selfcheck-prints"]
    packed = cells["selfcheck-prints"].split('"""')[3].split()
    assert len(packed) > 10 and not [line for line in packed for source in carried.values() if line in source]
    for cell_id in (*carried, "selfcheck-prints"):
        assert max(len(line) for line in cells[cell_id].splitlines()) <= 200, cell_id


def nbgrader_validate(*args):
    result = subprocess.run([sys.executable, "-m", "nbgrader", "validate", *args], capture_output=True, text=True)
    return result.stdout + result.stderr


def test_nbgrader_validate_invert_release_passes_no_test(tmp_path, monkeypatch, data_env):
    monkeypatch.chdir(tmp_path)
    for name, value in data_env.items():
        monkeypatch.setenv(name, value)
    output = nbgrader_validate("--invert", str(runnable_copy(RELEASE_NOTEBOOK, data_env, tmp_path)))
    assert "Success! The notebook does not pass any tests." in output, output


# ---- the notebook is the lesson: machinery collapsed, one click away ----------------------------------------


def test_carried_modules_and_set_up_open_collapsed_in_colab_and_jupyter(source, student):
    for notebook in (source, student):
        machinery = [cell for cell in notebook.cells if release.is_machinery(cell)]
        assert {cell.id for cell in machinery} == {
            "setup",
            "config-module",
            "data-module",
            "fingerprint-module",
            "trace-module",
            "locate-module",
            "raising-module",
            "stopped-module",
            "selfcheck-module",
            "selfcheck-prints",
            "speed-module",
            "training-module",
            "metrics-module",
        }
        for cell in machinery:
            title = cell.metadata["unet_course"]["title"]
            assert cell.source.startswith(f"#@title {title}\n") and release.is_hidden_by_default(cell), cell.id
            assert cell.metadata["cellView"] == cell.metadata["colab"]["cellView"] == "form"
            assert cell.metadata["jupyter"]["source_hidden"] is True
    visible = [cell.id for cell in student.cells if cell.cell_type == "code" and not release.is_hidden_by_default(cell)]
    assert "training-test" in visible and "train" in visible and "crop-solution" in visible


def test_at_most_a_tenth_of_the_code_a_student_sees_by_default_is_machinery(student):
    machinery, visible = release.machinery_share(student)
    print(f"machinery: {machinery} of the {visible} code lines visible by default")
    assert visible > 150 and machinery <= 0.10 * visible


def test_machinery_share_counts_visible_machinery_lines():
    cells = [
        nbformat.v4.new_code_cell("import torch\nprint(1)"),
        nbformat.v4.new_code_cell("x = 1\ny = 2\nz = 3"),
        nbformat.v4.new_code_cell("a = 1"),
    ]
    cells[0].id = "setup"
    cells[2].metadata["unet_course"] = {"inline": "lesson/config.py"}
    notebook = nbformat.v4.new_notebook(cells=cells)
    assert release.machinery_share(notebook) == (3, 6)
    release.collapse(cells[2], "settings")
    assert release.machinery_share(notebook) == (2, 5)


def test_collapsing_is_idempotent_and_the_check_sees_a_cell_opened_by_hand(tmp_path):
    source = nbformat.read(SOURCE_NOTEBOOK, as_version=4)
    assert release.sync_inlined_cells(source) == []  # the committed source is synced
    cell = next(cell for cell in source.cells if cell.id == "metrics-module")
    del cell.metadata["jupyter"]
    cell.source = release._without_title(cell.source)
    assert release.sync_inlined_cells(source) == ["inlined lesson/metrics.py"]
    assert release.is_hidden_by_default(cell) and release.sync_inlined_cells(source) == []
    setup = next(cell for cell in source.cells if cell.id == "setup")
    setup.metadata["cellView"] = "code"
    assert release.sync_inlined_cells(source) == ["collapsed setup"]
    opened = tmp_path / "opened.ipynb"
    source_text = nbformat.read(SOURCE_NOTEBOOK, as_version=4)
    next(cell for cell in source_text.cells if cell.id == "data-module").metadata.pop("cellView")
    nbformat.write(source_text, opened)
    stale = release.release(check=True, source_path=opened)
    assert any("inlined data/isbi2012.py" in item for item in stale)
    assert (
        "cellView" not in next(c for c in nbformat.read(opened, as_version=4).cells if c.id == "data-module").metadata
    )


# ---- the Colab link: the instructor's own repository ---------------------------------------------------------


@pytest.mark.parametrize(
    "url, repo",
    [
        ("https://github.com/alice/unet-fork.git", "alice/unet-fork"),
        ("https://github.com/alice/unet-fork", "alice/unet-fork"),
        ("https://github.com/alice/unet.fork/", "alice/unet.fork"),
        ("https://x-access-token:abc@github.com/Course-2027/unet_isbi.git", "Course-2027/unet_isbi"),
        ("git@github.com:alice/unet-fork.git", "alice/unet-fork"),
        ("git@github.com:alice/unet-fork", "alice/unet-fork"),
        ("ssh://git@github.com/alice/unet-fork.git", "alice/unet-fork"),
        ("ssh://git@github.com:22/alice/unet-fork.git", "alice/unet-fork"),
        ("https://gitlab.com/alice/unet-fork.git", None),
        ("git@gitlab.com:alice/unet-fork.git", None),
        ("/work/main", None),
        ("https://github.com/alice", None),
        ("", None),
    ],
)
def test_github_repo_of_remote_urls(url, repo):
    assert release.github_repo(url) == repo


def git(folder, *args):
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)


def test_remote_setting_from_the_clone_else_the_course_default(tmp_path):
    git(tmp_path, "init", "-q")
    assert release.remote_setting(tmp_path) == ("unet-course/unet-isbi2012", "main")  # no remote
    git(tmp_path, "remote", "add", "origin", "/srv/git/unet.git")
    assert release.remote_setting(tmp_path) == ("unet-course/unet-isbi2012", "main")  # not GitHub
    git(tmp_path, "remote", "set-url", "origin", "git@github.com:alice/unet-fork.git")
    assert release.remote_setting(tmp_path) == ("alice/unet-fork", "main")
    git(tmp_path, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/spring-2027")
    assert release.remote_setting(tmp_path) == ("alice/unet-fork", "spring-2027")
    assert release.remote_setting(tmp_path / "not-a-clone") == ("unet-course/unet-isbi2012", "main")


def test_colab_url_rejects_what_is_not_a_repository_or_branch():
    assert (
        release.colab_url("alice/unet-fork", "feature/x")
        == "https://colab.research.google.com/github/alice/unet-fork/blob/feature/x/UNet_Assignment.ipynb"
    )
    for repo, branch in (
        ("alice", "main"),
        ("alice/unet fork", "main"),
        ("alice/unet-fork", ""),
        ("alice/unet-fork", 'x"><script>'),
    ):
        with pytest.raises(ValueError):
            release.colab_url(repo, branch)


def test_release_links_the_instructors_repository_and_check_compares_with_the_same(tmp_path):
    url = "https://colab.research.google.com/github/alice/unet-fork/blob/spring-2027/UNet_Assignment.ipynb"
    source, student, readme = tmp_path / "source.ipynb", tmp_path / "UNet_Assignment.ipynb", tmp_path / "README.md"
    source.write_bytes(SOURCE_NOTEBOOK.read_bytes())
    readme.write_text((RELEASE_NOTEBOOK.parent / "README.md").read_text())
    settings = dict(
        source_path=source, release_path=student, readme_path=readme, repo="alice/unet-fork", branch="spring-2027"
    )
    assert release.release(check=True, **settings) == [str(student), f"{readme}: Colab badge"]
    assert release.release(**settings) == [str(student), f"{readme}: Colab badge"]
    title = nbformat.read(student, as_version=4).cells[0].source
    assert f'<a href="{url}"' in title and "unet-course" not in title
    assert f'<a href="{url}"' in readme.read_text() and "github/unet-course" not in readme.read_text()
    assert release.release(check=True, **settings) == []
    assert release.release(check=True, source_path=source, release_path=student, readme_path=readme) == [
        str(student),
        f"{readme}: Colab badge",
    ]  # the default link is another one


def test_committed_release_and_readme_link_this_clones_repository(student):
    url = release.colab_url(*release.remote_setting())  # here, with no GitHub remote: unet-course/unet-isbi2012
    assert f'<a href="{url}"' in student.cells[0].source
    assert f'<a href="{url}"' in (RELEASE_NOTEBOOK.parent / "README.md").read_text()
