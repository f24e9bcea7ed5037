"""Running workflows: parameters, outputs, loops, conditions, DAG phases, private folders,
parallelism, deadlines, environment and secrets. Every workflow here really runs its nodes."""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

from kaleidoscope.workflows.cli import main
from kaleidoscope.workflows.executor import execute, format_tree
from kaleidoscope.workflows.executor.report import Progress
from tests.executor.manifests import sh, workflow


def run(manifest: dict, parameters: dict | None = None, **options):
    return execute(manifest, parameters, show_progress=False, **options)


def args(**values) -> dict:
    return {"parameters": [{"name": k, "value": v} for k, v in values.items()]}


def max_overlap(log: Path) -> int:
    """Most nodes running at once, from 'start T' / 'end T' lines the nodes wrote."""
    events = []
    for line in log.read_text().splitlines():
        kind, stamp = line.split()
        events.append((float(stamp), 1 if kind == "start" else -1))
    running = peak = 0
    for _, change in sorted(events, key=lambda event: (event[0], event[1])):
        running += change
        peak = max(peak, running)
    return peak


TIMED = 'echo start $(date +%s.%N) >> "{{workflow.parameters.log}}"; sleep 0.3; echo end $(date +%s.%N) >> "{{workflow.parameters.log}}"'


# --- parameters and outputs ------------------------------------------------------------------


def test_parameters_defaults_and_overrides_reach_the_command():
    templates = [
        {
            "name": "main",
            "steps": [[{"name": "say", "template": "say", "arguments": args(a="{{workflow.parameters.who}}")}]],
        },
        sh(
            "say",
            'printf "%s|%s|%s" "{{inputs.parameters.a}}" "{{inputs.parameters.b}}" "{{workflow.name}}" > /tmp/o',
            inputs=["a", {"name": "b", "default": "dflt"}],
            outputs={"o": {"path": "/tmp/o"}},
        ),
    ]
    manifest = workflow(templates, parameters={"who": "manifest"})
    result = run(manifest)
    assert result.node("say").outputs == {"o": f"manifest|dflt|{result.name}"}
    assert run(manifest, {"who": "cli"}).node("say").outputs["o"].startswith("cli|dflt|")
    assert result.parameters == {"who": "manifest"}


def test_output_parameter_default_applies_when_the_file_is_missing():
    templates = [sh("main", "true", outputs={"p": {"path": "/tmp/never", "default": "Foobar"}})]
    result = run(workflow(templates))
    assert result.phase == "Succeeded"
    assert result.root.outputs == {"p": "Foobar"}


def test_result_is_stdout_trimmed_and_captured_only_when_referenced():
    templates = [
        {
            "name": "main",
            "steps": [
                [{"name": "gen", "template": "gen"}, {"name": "quiet", "template": "gen"}],
                [{"name": "use", "template": "echo", "arguments": args(m="{{steps.gen.outputs.result}}")}],
            ],
        },
        sh("gen", "printf 'line1\\nline2\\n'"),
        sh("echo", 'test "{{inputs.parameters.m}}" = "$(printf "line1\\nline2")"', inputs=["m"]),
    ]
    result = run(workflow(templates))
    assert result.phase == "Succeeded"
    assert result.node("gen").result == "line1\nline2"  # one trailing newline trimmed, as Argo does
    assert result.node("quiet").result is None  # nobody refers to it: Argo does not capture it


def test_result_keeps_the_last_256_kb_of_stdout():
    source = "import sys\nsys.stdout.write('A' * 1000 + 'B' * (300 * 1024) + 'END\\n')\n"
    templates = [
        {
            "name": "main",
            "steps": [
                [{"name": "big", "template": "big"}],
                [{"name": "size", "template": "size", "arguments": args(m="{{steps.big.outputs.result}}")}],
            ],
        },
        {"name": "big", "script": {"image": "python", "command": ["python"], "source": source}},
        sh("size", "true", inputs=["m"]),
    ]
    result = run(workflow(templates))
    captured = result.node("big").result
    assert len(captured.encode()) == 256 * 1024
    assert captured.endswith("BEND") and "A" not in captured


def test_global_outputs_and_template_outputs():
    templates = [
        {
            "name": "main",
            "dag": {
                "tasks": [
                    {"name": "inner", "template": "inner"},
                    {
                        "name": "use",
                        "template": "check",
                        "depends": "inner",
                        "arguments": args(
                            m="{{tasks.inner.outputs.parameters.out}}/{{workflow.outputs.parameters.shared}}"
                        ),
                    },
                ]
            },
        },
        {
            "name": "inner",
            "steps": [[{"name": "make", "template": "make"}]],
            "outputs": {
                "parameters": [{"name": "out", "valueFrom": {"parameter": "{{steps.make.outputs.parameters.v}}"}}]
            },
        },
        sh("make", "echo -n 42 > /tmp/v", outputs={"v": {"path": "/tmp/v"}}),
        sh("check", 'test "{{inputs.parameters.m}}" = 42/42', inputs=["m"]),
    ]
    templates[2]["outputs"]["parameters"][0]["globalName"] = "shared"
    result = run(workflow(templates))
    assert result.phase == "Succeeded"
    assert result.node("inner").outputs == {"out": "42"}
    assert result.outputs == {"shared": "42"}


# --- loops -------------------------------------------------------------------------------------


def test_loops_over_maps_sequences_and_aggregate_their_outputs():
    templates = [
        {
            "name": "main",
            "steps": [
                [
                    {
                        "name": "fan",
                        "template": "emit",
                        "withParam": '[{"n": 1, "s": "a"}, {"n": 2, "s": "b"}]',
                        "arguments": args(v="{{item.s}}{{item.n}}"),
                    },
                    {
                        "name": "seq",
                        "template": "emit",
                        "withSequence": {"count": "2", "start": "7", "format": "x%02d"},
                        "arguments": args(v="{{item}}"),
                    },
                ],
                [
                    {
                        "name": "total",
                        "template": "check",
                        "arguments": args(
                            m="{{steps.fan.outputs.parameters.o}} {{steps.seq.outputs.parameters}} {{steps.fan.outputs.result}}"
                        ),
                    }
                ],
            ],
        },
        sh(
            "emit",
            'echo -n "{{inputs.parameters.v}}" > /tmp/o; echo \'"{{inputs.parameters.v}}"\'',
            inputs=["v"],
            outputs={"o": {"path": "/tmp/o"}},
        ),
        sh("check", "echo '{{inputs.parameters.m}}' > /tmp/m", inputs=["m"], outputs={"m": {"path": "/tmp/m"}}),
    ]
    result = run(workflow(templates))
    assert result.phase == "Succeeded"
    names = [node.display_name for node in result.nodes if node.template == "emit"]
    assert names == ["fan(0:n:1,s:a)", "fan(1:n:2,s:b)", "seq(0:x07)", "seq(1:x08)"]
    assert result.node("total").outputs["m"] == '["a1","b2"] [{"o":"x07"},{"o":"x08"}] ["a1","b2"]'


def test_empty_with_param_in_a_dag_is_skipped():
    templates = [
        {
            "name": "main",
            "dag": {
                "tasks": [
                    {"name": "none", "template": "noop", "withParam": "[]", "arguments": args(v="{{item}}")},
                    {"name": "after", "template": "noop", "depends": "none", "arguments": args(v="x")},
                ]
            },
        },
        sh("noop", "true", inputs=["v"]),
    ]
    result = run(workflow(templates))
    assert (result.node("none").phase, result.node("none").message) == ("Skipped", "Skipped, empty params")
    assert result.node("after").phase == "Succeeded"


def test_with_param_that_is_not_a_json_list_errors_the_node():
    templates = [
        {
            "name": "main",
            "steps": [
                [
                    {
                        "name": "bad",
                        "template": "noop",
                        "withParam": "{{workflow.parameters.p}}",
                        "arguments": args(v="{{item}}"),
                    }
                ]
            ],
        },
        sh("noop", "true", inputs=["v"]),
    ]
    result = run(workflow(templates, parameters={"p": "not-json"}))
    assert result.phase == "Failed"
    assert result.node("bad").phase == "Error"
    assert "withParam value could not be parsed as a JSON list: not-json" in result.node("bad").message


# --- conditions and phases -------------------------------------------------------------------


def test_when_skips_and_continue_on_lets_steps_go_on():
    templates = [
        {
            "name": "main",
            "steps": [
                [{"name": "flip", "template": "emit", "arguments": args(v="heads")}],
                [
                    {
                        "name": "heads",
                        "template": "fail",
                        "when": "{{steps.flip.outputs.result}} == heads",
                        "continueOn": {"failed": True},
                    },
                    {
                        "name": "tails",
                        "template": "emit",
                        "when": "{{steps.flip.outputs.result}} == tails",
                        "arguments": args(v="x"),
                    },
                ],
                [
                    {
                        "name": "last",
                        "template": "emit",
                        "arguments": args(v="{{steps.heads.status}}/{{steps.tails.status}}"),
                    }
                ],
            ],
        },
        sh("emit", 'echo "{{inputs.parameters.v}}"', inputs=["v"]),
        sh("fail", "exit 1"),
    ]
    result = run(workflow(templates))
    assert result.phase == "Succeeded"
    assert result.node("heads").phase == "Failed"
    assert (result.node("tails").phase, result.node("tails").message) == (
        "Skipped",
        "when 'heads == tails' evaluated false",
    )
    assert result.node("last").inputs == {"v": "Failed/Skipped"}


def test_a_failed_step_stops_the_steps_template():
    templates = [
        {"name": "main", "steps": [[{"name": "one", "template": "fail"}], [{"name": "two", "template": "fail"}]]},
        sh("fail", "echo oops >&2; exit 4"),
    ]
    result = run(workflow(templates))
    assert result.phase == "Failed"
    assert [node.display_name for node in result.nodes if node.type == "StepGroup"] == ["[0]"]
    assert result.node("one").exit_code == 4
    summary = format_tree(result)
    assert "stderr| oops" in summary and "Status:      Failed" in summary


def _dag(tasks: list[dict], **dag) -> list[dict]:
    return [
        {"name": "main", "dag": {"tasks": tasks, **dag}},
        sh("ok", "true"),
        sh("fail", "exit 1"),
        sh("slow", "sleep 0.5"),
    ]


def test_a_target_with_continue_on_does_not_fail_the_dag():
    result = run(
        workflow(
            _dag(
                [
                    {"name": "a", "template": "ok"},
                    {"name": "b", "template": "fail", "dependencies": ["a"], "continueOn": {"failed": True}},
                ]
            )
        )
    )
    assert result.phase == "Succeeded"
    assert result.node("b").phase == "Failed"


def test_a_handled_failure_does_not_fail_the_dag():
    # b fails, but its only dependent runs on that failure and succeeds: the branch ends Succeeded.
    result = run(
        workflow(_dag([{"name": "b", "template": "fail"}, {"name": "handle", "template": "ok", "depends": "b.Failed"}]))
    )
    assert result.phase == "Succeeded"


def test_tasks_whose_dependencies_finish_still_start_while_others_run():
    # Argo assesses a DAG Running while any started task runs, so "after" starts once "slow"
    # ends, although "boom" failed before; the DAG fails at the end.
    tasks = [
        {"name": "boom", "template": "fail"},
        {"name": "slow", "template": "slow"},
        {"name": "after", "template": "ok", "depends": "slow"},
    ]
    result = run(workflow(_dag(tasks)))
    assert result.phase == "Failed"
    assert (result.node("slow").phase, result.node("after").phase) == ("Succeeded", "Succeeded")


def test_fail_fast_false_runs_every_branch_to_its_end():
    tasks = [
        {"name": "boom", "template": "fail"},
        {"name": "slow", "template": "slow"},
        {"name": "after", "template": "ok", "depends": "slow"},
    ]
    result = run(workflow(_dag(tasks, failFast=False)))
    assert result.phase == "Failed"
    assert [(node.display_name, node.phase) for node in result.children(result.root)] == [
        ("boom", "Failed"),
        ("slow", "Succeeded"),
        ("after", "Succeeded"),
    ]


def test_dag_target_runs_only_the_targets_and_their_ancestors():
    tasks = [
        {"name": "a", "template": "ok"},
        {"name": "b", "template": "ok", "dependencies": ["a"]},
        {"name": "c", "template": "ok", "dependencies": ["a"]},
    ]
    result = run(workflow(_dag(tasks, target="b")))
    assert result.phase == "Succeeded"
    assert [node.display_name for node in result.children(result.root)] == ["a", "b"]


def test_dag_target_resolves_the_workflow_parameters_when_the_dag_runs():
    # Argo's examples/dag-targets.yaml: `target: "{{workflow.parameters.target}}"`, run with
    # `-p target=E`. The controller resolves the template's variables before executeDAG splits
    # dag.target into task names (workflow/controller/dag.go), so a name no task has errors the
    # DAG node when it runs, not the manifest when it loads.
    tasks = [
        {"name": "A", "template": "ok"},
        {"name": "B", "template": "ok", "depends": "A"},
        {"name": "C", "template": "ok", "depends": "A"},
        {"name": "D", "template": "ok", "depends": "B && C"},
        {"name": "E", "template": "ok", "depends": "C"},
    ]
    manifest = workflow(_dag(tasks, target="{{workflow.parameters.target}}"), parameters={"target": "E"})
    result = run(manifest)
    assert result.phase == "Succeeded"
    assert [node.display_name for node in result.children(result.root)] == ["A", "C", "E"]
    two = run(manifest, {"target": "B D"})
    assert [node.display_name for node in two.children(two.root)] == ["A", "B", "C", "D"]
    missing = run(manifest, {"target": "Z"})
    assert missing.phase == "Error" and missing.root.message == "target: no task named 'Z' in this dag"


def test_dependencies_with_continue_on_failed_still_run_the_dependent():
    tasks = [
        {"name": "a", "template": "fail", "continueOn": {"failed": True}},
        {"name": "b", "template": "ok", "dependencies": ["a"]},
    ]
    result = run(workflow(_dag(tasks)))
    assert (result.node("a").phase, result.node("b").phase, result.phase) == ("Failed", "Succeeded", "Succeeded")


def test_outputs_of_skipped_tasks_use_the_default_or_the_consumer_default_or_error():
    templates = [
        {
            "name": "main",
            "dag": {
                "tasks": [
                    {"name": "never", "template": "make", "when": "a == b"},
                    {
                        "name": "own-default",
                        "template": "show",
                        "depends": "never",
                        "arguments": args(v="{{tasks.never.outputs.parameters.with-default}}"),
                    },
                    {
                        "name": "input-default",
                        "template": "show",
                        "depends": "never",
                        "arguments": args(v="{{tasks.never.outputs.parameters.plain}}"),
                    },
                    {
                        "name": "embedded",
                        "template": "show",
                        "depends": "never",
                        "arguments": args(v="x-{{tasks.never.outputs.parameters.plain}}"),
                    },
                ]
            },
        },
        sh("make", "true", outputs={"with-default": {"path": "/tmp/a", "default": "D"}, "plain": {"path": "/tmp/b"}}),
        sh("show", "true", inputs=[{"name": "v", "default": "input-default"}]),
    ]
    result = run(workflow(templates))
    assert result.node("never").phase == "Skipped"
    assert result.node("own-default").inputs == {"v": "D"}
    assert result.node("input-default").inputs == {"v": "input-default"}
    assert result.node("embedded").phase == "Error"
    assert "skipped or omitted" in result.node("embedded").message
    assert result.phase == "Error"  # the DAG takes its failed target's phase


# --- private folders ---------------------------------------------------------------------------


def test_parallel_nodes_writing_the_same_tmp_path_do_not_collide(tmp_path):
    marker = f"/tmp/kaleidoscope-collide-{os.getpid()}-{time.time_ns()}.txt"
    templates = [
        {
            "name": "main",
            "dag": {"tasks": [{"name": f"w{i}", "template": "write", "arguments": args(v=str(i))} for i in range(3)]},
        },
        sh(
            "write",
            f'echo -n "{{{{inputs.parameters.v}}}}" > {marker}; sleep 0.3; cat {marker} > /tmp/back',
            inputs=["v"],
            outputs={"same": {"path": marker}, "back": {"path": "/tmp/back"}},
        ),
    ]
    result = run(workflow(templates), workdir=tmp_path / "work")
    assert [result.node(f"w{i}").outputs for i in range(3)] == [{"same": str(i), "back": str(i)} for i in range(3)]
    assert not Path(marker).exists()  # nothing was written to the host's /tmp
    folders = {result.node(f"w{i}").folder for i in range(3)}
    assert len(folders) == 3 and all(folder.startswith(str(tmp_path / "work")) for folder in folders)


def test_empty_dir_mounts_tmpdir_and_working_directory_are_private(tmp_path):
    script = 'echo -n hi > /data/f; printf "%s %s %s" "$(cat /data/f)" "$TMPDIR" "$(pwd)" > /tmp/o'
    templates = [{**sh("main", script, outputs={"o": {"path": "/tmp/o"}}), "volumes": [{"name": "d", "emptyDir": {}}]}]
    templates[0]["container"]["volumeMounts"] = [{"name": "d", "mountPath": "/data"}]
    result = run(workflow(templates), workdir=tmp_path)
    text, tmpdir, cwd = result.root.outputs["o"].split()
    folder = Path(result.root.folder)
    assert text == "hi"
    assert (Path(tmpdir), Path(cwd)) == (folder / "tmp", folder / "work")
    assert (folder / "mounts" / "d" / "f").read_text() == "hi"


def test_parameter_values_are_data_and_not_rewritten(tmp_path):
    target = tmp_path / "host-file.txt"  # under the host's /tmp: passed as a parameter, so used as is
    templates = [sh("main", 'echo -n ok > "{{workflow.parameters.target}}"')]
    assert run(workflow(templates, parameters={"target": str(target)})).phase == "Succeeded"
    assert target.read_text() == "ok"


# --- parallelism and deadlines -----------------------------------------------------------------


def test_workflow_parallelism_bounds_running_pods(tmp_path):
    log = tmp_path / "log"
    templates = [
        {
            "name": "main",
            "dag": {
                "tasks": [
                    {"name": "t", "template": "timed", "withSequence": {"count": "6"}, "arguments": args(i="{{item}}")}
                ]
            },
        },
        sh("timed", TIMED, inputs=["i"]),
    ]
    result = run(workflow(templates, parameters={"log": str(log)}, parallelism=2))
    assert result.phase == "Succeeded"
    assert max_overlap(log) == 2


def test_template_parallelism_bounds_its_children(tmp_path):
    log = tmp_path / "log"
    templates = [
        {
            "name": "main",
            "parallelism": 3,
            "steps": [
                [{"name": "t", "template": "timed", "withItems": list(range(7)), "arguments": args(i="{{item}}")}]
            ],
        },
        sh("timed", TIMED, inputs=["i"]),
    ]
    assert run(workflow(templates, parameters={"log": str(log)})).phase == "Succeeded"
    assert max_overlap(log) == 3


def test_template_deadline_kills_the_process_group(tmp_path):
    pid_file = tmp_path / "pid"
    templates = [sh("main", 'sleep 30 & echo $! > "{{workflow.parameters.pid}}"; sleep 30', activeDeadlineSeconds=1)]
    started = time.monotonic()
    result = run(workflow(templates, parameters={"pid": str(pid_file)}))
    assert time.monotonic() - started < 5
    assert result.phase == "Failed"
    assert result.root.message == "Pod was active on the node longer than the specified deadline"
    assert not _alive(int(pid_file.read_text()))  # the background child died with its group


def _alive(pid: int) -> bool:
    # An orphan's zombie stays until PID 1 reaps it, which a container's init may never do.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workflow_deadline_stops_running_nodes_and_starts_nothing_new():
    templates = [
        {"name": "main", "steps": [[{"name": "long", "template": "long"}], [{"name": "next", "template": "long"}]]},
        sh("long", "sleep 30"),
    ]
    started = time.monotonic()
    result = run(workflow(templates, activeDeadlineSeconds=1))
    assert time.monotonic() - started < 5
    assert result.phase == "Failed"
    assert result.node("long").message == "Step exceeded its deadline"
    assert not result.find(display_name="next")


# --- environment -------------------------------------------------------------------------------


def test_env_values_k8s_expansion_and_secrets_from_file_and_environment(monkeypatch):
    monkeypatch.setenv("KALEIDOSCOPE_SECRET_API_TOKEN", "from-env")
    monkeypatch.setenv("KALEIDOSCOPE_SECRET_OTHER_X", "must-not-leak")
    env = [
        {"name": "A", "value": "one"},
        {"name": "B", "value": "$(A)-two"},
        {"name": "S3", "valueFrom": {"secretKeyRef": {"name": "s3", "key": "secret"}}},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}},
        {"name": "GONE", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k", "optional": True}}},
    ]
    script = 'printf "%s %s %s %s [%s] [%s]" "$B" "$S3" "$TOKEN" "${#S3}" "${GONE-unset}" "${KALEIDOSCOPE_SECRET_OTHER_X-}" > /tmp/o'
    templates = [sh("main", script, outputs={"o": {"path": "/tmp/o"}})]
    templates[0]["container"]["env"] = env
    result = run(workflow(templates), secrets={"s3": {"secret": "hunter2"}})
    assert result.root.outputs["o"] == "one-two hunter2 from-env 7 [unset] []"


def test_python_and_kaleidoscope_are_this_environments():
    templates = [
        {
            "name": "main",
            "steps": [
                [{"name": "py", "template": "py"}, {"name": "cli", "template": "cli"}],
                [
                    {
                        "name": "use",
                        "template": "use",
                        "arguments": args(m="{{steps.py.outputs.result}} {{steps.cli.outputs.result}}"),
                    }
                ],
            ],
        },
        {
            "name": "py",
            "container": {"image": "python:3", "command": ["python3", "-c", "import sys; print(sys.executable)"]},
        },
        sh("cli", "command -v kaleidoscope"),
        sh("use", "true", inputs=["m"]),
    ]
    result = run(workflow(templates))
    assert result.node("py").result == sys.executable
    assert result.node("cli").result == str(Path(sys.executable).parent / "kaleidoscope")


def test_missing_command_is_an_error_of_the_node():
    result = run(workflow([{"name": "main", "container": {"image": "x", "command": ["no-such-command-xyz"]}}]))
    assert result.phase == "Error"
    assert result.root.message == 'exec: "no-such-command-xyz": executable file not found in $PATH'


# --- progress and reporting --------------------------------------------------------------------


def test_progress_files_are_read_and_summed():
    templates = [
        {
            "name": "main",
            "steps": [[{"name": "p", "template": "p", "withItems": ["3/10", "5/10"], "arguments": args(v="{{item}}")}]],
        },
        sh("p", 'echo "{{inputs.parameters.v}}" > "$ARGO_PROGRESS_FILE"', inputs=["v"]),
    ]
    stream = io.StringIO()
    result = execute(workflow(templates), progress_stream=stream, progress_interval=60)
    assert [node.progress for node in result.find(template="p")] == [(3, 10), (5, 10)]
    assert stream.getvalue().endswith("nodes 2/2 done, 0 running, progress 8/20\n")


def test_progress_line_on_a_terminal_is_updated_in_place():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    class Runner:
        name = "wf"

        def progress(self):
            return {"pods": 3, "pods_done": 1, "pods_running": 2, "items_done": 0, "items_total": 0}

    stream = Terminal()
    progress = Progress(Runner(), stream).start()
    progress._emit(force=False)
    progress.stop()
    assert stream.getvalue().startswith("\r\033[Kwf: ") and "nodes 1/3 done, 2 running" in stream.getvalue()
    assert "\n" not in stream.getvalue()


def test_progress_shows_the_rate_and_the_time_left():
    class Runner:
        name = "wf"
        done = 0

        def progress(self):
            return {"pods": 3, "pods_done": 1, "pods_running": 2, "items_done": self.done, "items_total": 100}

    now = [0.0]
    runner = Runner()
    progress = Progress(runner, io.StringIO(), clock=lambda: now[0])
    assert progress.line().endswith("progress 0/100")  # nothing done yet: no rate to show
    runner.done, now[0] = 10, 2.0
    assert progress.line().endswith("progress 10/100")  # the first items: the rate starts here
    runner.done, now[0] = 30, 6.0
    assert progress.line().endswith("progress 30/100, 5.0/s, 14s left")


def test_events_report_every_node():
    seen = []
    templates = [{"name": "main", "steps": [[{"name": "a", "template": "ok"}]]}, sh("ok", "true")]
    result = run(workflow(templates), on_event=lambda node: seen.append((node.display_name, node.phase)))
    assert ("a", "Running") in seen and ("a", "Succeeded") in seen
    assert seen[-1] == (result.name, "Succeeded")


# --- command line ------------------------------------------------------------------------------


def test_run_workflow_command_exit_codes(tmp_path, capsys):
    import yaml

    good = tmp_path / "good.yaml"
    good.write_text(
        yaml.safe_dump(workflow([sh("main", 'test "{{workflow.parameters.x}}" = yes')], parameters={"x": "no"}))
    )
    assert main(["run-workflow", str(good), "--no-progress"]) == 1
    assert main(["run-workflow", str(good), "--no-progress", "-p", "x=yes"]) == 0
    assert "Status:      Succeeded" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nspec: {entrypoint: x, templates: []}\n")
    assert main(["run-workflow", str(bad)]) == 2
    assert "spec.entrypoint: template 'x' is not defined (templates: none)" in capsys.readouterr().err
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("[not, a, mapping]")
    assert main(["run-workflow", str(good), "--secrets", str(secrets)]) == 2
