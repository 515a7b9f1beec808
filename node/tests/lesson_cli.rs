//! `zablab lesson`: the terminal player replays a lesson in both languages, lists the
//! catalog, and checks an exercise typed on stdin.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn zablab(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zablab"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("zablab runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("zablab finishes")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn lesson_list_prints_one_lesson_a_line_name_first() {
    let o = zablab(&["lesson", "list"], "");
    assert!(o.status.success());
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 20, "{out}");
    assert!(
        lines[0].starts_with("01-startup-election  Start-up election"),
        "{out}"
    );
    assert!(lines[11].starts_with("12-watches-one-shot  "), "{out}");
    assert!(
        lines[12].starts_with("13-quorum-logged-survives  A proposal logged by more than half"),
        "{out}"
    );
    assert!(
        lines[13].starts_with("14-versions-conditional-set  Versions and conditional setData"),
        "{out}"
    );
    for (line, name) in lines[14..].iter().zip([
        "15-guarantees-and-sync  ZooKeeper's guarantees",
        "16-session-moves  A session moves to another server",
        "17-recipes-election-herd  Recipes: group membership",
        "18-zab-phases  ZAB by name",
        "19-acls  ACLs: schemes",
        "20-znode-rules  Znode rules",
    ]) {
        assert!(line.starts_with(name), "{out}");
    }
}

#[test]
fn lesson_01_replays_to_the_end_in_english_and_chinese() {
    let o = zablab(&["lesson", "01-startup-election", "--auto"], "");
    let out = stdout(&o);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("Server 2 starts and votes for itself"),
        "{out}"
    );
    assert!(
        out.contains("2 → 1  NOTIFICATION (2, 0:0) round 1"),
        "{out}"
    );
    assert!(out.contains("FOLLOWING  BROADCAST"), "{out}");
    assert_eq!(out.matches("✓ checkpoint holds").count(), 4, "{out}");
    assert!(!out.contains('✗') || out.contains("lost"), "{out}");

    let o = zablab(&["lesson", "01", "--lang", "zh"], "\n\n\n");
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("服务器 2 启动，投票给自己"), "{out}");
    assert_eq!(out.matches("✓ 检查点通过").count(), 4, "{out}");
}

#[test]
fn an_unknown_lesson_or_language_is_a_usage_error() {
    assert_eq!(zablab(&["lesson", "nosuch"], "").status.code(), Some(2));
    assert_eq!(
        zablab(&["lesson", "01", "--lang", "fr"], "").status.code(),
        Some(2)
    );
}

#[test]
fn an_exercise_is_checked_from_commands_on_stdin() {
    let o = zablab(
        &["lesson", "01", "--exercise", "make-3-leader"],
        "start 3\nstart 1\nrun 3000\ncheck\n",
    );
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(stdout(&o).contains("goal reached: the leader is server 3"));

    let o = zablab(
        &[
            "lesson",
            "01",
            "--exercise",
            "make-3-leader",
            "--lang",
            "zh",
        ],
        "start 1\nstart 2\nrun 3000\ncheck\n",
    );
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("尚未完成") && out.contains("提示"), "{out}");
}

#[test]
fn a_question_is_asked_before_its_step_and_answered_after_the_input() {
    // Step 2 asks who server 1 will vote for (2), step 3 server 1's state (FOLLOWING), step 4
    // server 3's state (FOLLOWING): answer right, wrong, and not at all.
    let o = zablab(&["lesson", "01"], "2\n1\n\n");
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    let asked = out
        .find("? Server 2 starts while server 1 is looking")
        .expect("the question of step 2");
    let prompt = out[asked..].find("[your prediction").expect("a prompt") + asked;
    let narrated = out
        .find("Server 2 starts and votes for itself")
        .expect("the narration of step 2");
    let verdict = out.find("you said 2: ✓ right").expect("a verdict");
    assert!(
        asked < prompt && prompt < narrated && narrated < verdict,
        "{out}"
    );
    assert!(
        !out[asked..narrated].contains("Answer:"),
        "the answer comes after the input: {out}"
    );
    assert!(out.contains("you said 1: ✗ not this time"), "{out}");
    assert_eq!(out.matches("you said").count(), 2, "{out}");
    assert_eq!(out.matches("Answer: 2").count(), 1, "{out}");
    assert_eq!(out.matches("Answer: FOLLOWING").count(), 2, "{out}");
}
