//! Every lesson is a test: each file parses, each checkpoint holds when the lesson is played
//! from its seed, each question's computed answer is the one the author expects, and each
//! exercise has a scripted solution that passes and a scripted try that fails with a hint.
//!
//! Needs the `serde` feature (the lesson files are JSON): `cargo test -p zablab-core
//! --features serde --test lessons` (a workspace-wide `cargo test` enables it through the node).
#![cfg(feature = "serde")]

use zablab_core::lesson::{
    catalog, check_exercise, text, Goal, Lang, Lesson, LessonError, LessonRun,
};

fn all_lessons() -> Vec<Lesson> {
    catalog()
        .iter()
        .map(|(name, json)| {
            Lesson::from_json(json).unwrap_or_else(|e| panic!("lesson {name}: {e}"))
        })
        .collect()
}

#[test]
fn every_lesson_file_parses_and_the_catalog_lists_every_file() {
    let lessons = all_lessons();
    assert_eq!(lessons.len(), 20, "every lesson file in lessons/ (20)");
    for ((name, _), lesson) in catalog().iter().zip(&lessons) {
        assert_eq!(&lesson.name, name, "a lesson's name is its file name");
        assert!(!lesson.steps.is_empty(), "{name}: no steps");
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../lessons");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("lessons/ exists")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".json").map(str::to_string)
        })
        .collect();
    files.sort();
    let listed: Vec<String> = catalog().iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(
        files, listed,
        "every file in lessons/ is in the catalog, in order"
    );
}

#[test]
fn every_checkpoint_of_every_lesson_holds_and_every_answer_is_the_expected_one() {
    for lesson in all_lessons() {
        let name = lesson.name.clone();
        let mut run = LessonRun::new(lesson.clone()).expect("valid lesson");
        let all_passed = run.play_to_end();
        for report in run.reports() {
            let step = &lesson.steps[report.step];
            assert!(
                report.check.passed(),
                "lesson {name}, step {}: {}",
                report.step + 1,
                report
                    .check
                    .failures
                    .iter()
                    .map(|f| f.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            assert!(
                report.check.checked > 0 || step.check.is_empty(),
                "lesson {name}, step {}: a checkpoint that checks nothing",
                report.step + 1
            );
            if let Some(q) = &step.question {
                assert_eq!(
                    report.answer.as_deref(),
                    Some(q.expect.as_str()),
                    "lesson {name}, step {}: computed answer",
                    report.step + 1
                );
                assert_eq!(run.check_answer(report.step, &q.expect), Some(true));
                assert_eq!(run.check_answer(report.step, "certainly not"), Some(false));
            }
        }
        assert!(all_passed);
        assert!(
            run.cluster().violation().is_none(),
            "lesson {name}: {:?}",
            run.cluster().violation()
        );
    }
}

#[test]
fn every_step_is_narrated_in_english_and_chinese() {
    let has_cjk = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    for lesson in all_lessons() {
        let name = &lesson.name;
        assert!(
            has_cjk(&lesson.title.zh) && !has_cjk(&lesson.title.en),
            "{name}: title"
        );
        for (i, step) in lesson.steps.iter().enumerate() {
            assert!(
                step.en.trim().len() > 20,
                "{name} step {}: English narration",
                i + 1
            );
            assert!(
                has_cjk(&step.zh),
                "{name} step {}: Chinese narration",
                i + 1
            );
            assert!(
                !has_cjk(&step.en),
                "{name} step {}: Chinese text in the English narration",
                i + 1
            );
            if let Some(q) = &step.question {
                assert!(
                    has_cjk(&q.zh) && !q.en.is_empty(),
                    "{name} step {}: question",
                    i + 1
                );
            }
        }
        for ex in &lesson.exercises {
            assert!(
                has_cjk(&ex.title.zh) && has_cjk(&ex.hint.zh),
                "{name} {}",
                ex.id
            );
            assert!(
                !ex.title.en.is_empty() && !ex.hint.en.is_empty(),
                "{name} {}",
                ex.id
            );
        }
        let questions = lesson.steps.iter().filter(|s| s.question.is_some()).count();
        assert!(
            questions + lesson.exercises.len() > 0,
            "{name}: needs an exercise or a question"
        );
    }
}

#[test]
fn every_exercise_has_a_passing_solution_and_a_failing_try_with_a_hint() {
    let mut seen_goals = Vec::new();
    for lesson in all_lessons() {
        for (i, ex) in lesson.exercises.iter().enumerate() {
            let who = format!("{} / {}", lesson.name, ex.id);
            seen_goals.push(ex.goal.clone());
            let mut run = LessonRun::for_exercise(lesson.clone(), i).expect("exercise exists");
            for action in &ex.solution {
                run.apply(action)
                    .unwrap_or_else(|e| panic!("{who}: solution: {e}"));
            }
            let r = run.check_exercise(i).unwrap();
            assert!(r.passed, "{who}: the solution fails: {}", r.observed);
            assert_eq!(r.hint, None);
            eprintln!("{who}: solution: {}", r.observed);

            assert!(!ex.non_solution.is_empty(), "{who}: needs a failing try");
            let mut run = LessonRun::for_exercise(lesson.clone(), i).unwrap();
            for action in &ex.non_solution {
                run.apply(action)
                    .unwrap_or_else(|e| panic!("{who}: non-solution: {e}"));
            }
            let r = run.check_exercise(i).unwrap();
            assert!(!r.passed, "{who}: the wrong try passes: {}", r.observed);
            eprintln!("{who}: wrong try: {}", r.observed);
            let hint = r.hint.expect("a hint after a wrong try");
            assert_eq!(hint, ex.hint);
            assert!(!r.observed.is_empty());
        }
    }
    // The exercises issues 7 and 19 name exist.
    assert!(seen_goals.contains(&Goal::LeaderIs(3)));
    assert!(seen_goals.contains(&Goal::CommittedByNextLeader));
    assert!(seen_goals.iter().any(|g| matches!(
        g,
        Goal::WinsOn { leader, over, field } if leader < over && field == "epoch"
    )));
    assert!(seen_goals.contains(&Goal::SyncMode("TRUNC".into())));
    assert!(seen_goals.contains(&Goal::LoseUncommittedProposal));
}

#[test]
fn check_exercise_on_a_bare_cluster_sees_the_whole_trace() {
    let lesson = Lesson::by_name("06").unwrap();
    let trunc = lesson
        .exercises
        .iter()
        .find(|e| e.id == "cause-trunc")
        .unwrap();
    // Playing the lesson itself causes a TRUNC (step 4), but not before.
    let mut run = LessonRun::new(lesson.clone()).unwrap();
    run.goto(3);
    assert!(!check_exercise(trunc, run.cluster()).passed);
    run.goto(4);
    assert!(check_exercise(trunc, run.cluster()).passed);
}

#[test]
fn a_wrong_checkpoint_fails_and_says_what_was_expected_and_what_happened() {
    let (_, json) = zablab_core::lesson::find("01").unwrap();
    // Step 3 of lesson 1 expects server 2 to lead; claim server 1 does.
    let wrong = json.replacen("\"leader\": 2,", "\"leader\": 1,", 1);
    assert_ne!(wrong, json);
    let lesson = Lesson::from_json(&wrong).expect("still a valid lesson");
    let mut run = LessonRun::new(lesson).unwrap();
    assert!(!run.play_to_end());
    let failed: Vec<_> = run.reports().iter().filter(|r| !r.check.passed()).collect();
    assert_eq!(failed.len(), 1, "only the edited step fails");
    assert_eq!(failed[0].step, 2);
    let f = &failed[0].check.failures[0];
    assert_eq!(f.what, "established leader");
    assert_eq!((f.expected.as_str(), f.actual.as_str()), ("1", "2"));
    assert_eq!(f.to_string(), "established leader: expected 1, got 2");
    let shown = text::check_lines(failed[0], Lang::En).join("\n");
    assert!(
        shown.contains("✗") && shown.contains("expected 1, got 2"),
        "{shown}"
    );

    // A run_until that can never be reached reports its limit instead of hanging.
    let never = json.replacen(
        "{ \"run_until\": { \"until\": { \"leader\": 2 } } }",
        "{ \"run_until\": { \"until\": { \"leader\": 3 }, \"limit_ms\": 2000 } }",
        1,
    );
    assert_ne!(never, json);
    let mut run = LessonRun::new(Lesson::from_json(&never).unwrap()).unwrap();
    run.goto(3);
    let f = &run.reports()[2].check.failures[0];
    assert_eq!(f.what, "run_until (limit 2000 ms)");
    assert!(f.expected.contains("established leader = 3"), "{f}");
}

#[test]
fn a_bad_lesson_file_is_an_error_not_a_panic() {
    let (_, json) = zablab_core::lesson::find("10").unwrap();
    let cases = [
        (
            json.replacen("\"server\": 2,", "\"server\": 7,", 1),
            "no server 7",
        ),
        (
            json.replacen(
                "\"client\": \"b\", \"path\": \"/master\", \"data\": \"b\"",
                "\"client\": \"zz\", \"path\": \"/master\", \"data\": \"b\"",
                1,
            ),
            "client \"zz\" is used before it connects",
        ),
        (json.replacen("\"stable\": true", "\"stable\": 3", 1), ""),
        (
            json.replacen("\"path\": \"/master\"", "\"path\": \"master\"", 1),
            "must start with /",
        ),
        (
            json.replacen("\"session_open\"", "\"sessions_opn\"", 1),
            "unknown field",
        ),
        (
            json[..json.char_indices().nth(300).unwrap().0].to_string(),
            "",
        ),
    ];
    for (text, needle) in cases {
        assert_ne!(text, json);
        match Lesson::from_json(&text) {
            Ok(_) => panic!("accepted a bad lesson (wanted {needle:?})"),
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
                assert!(matches!(e, LessonError::Invalid(_) | LessonError::Parse(_)));
            }
        }
    }
    let (_, one) = zablab_core::lesson::find("01").unwrap();
    let bad = one.replacen("\"1\": \"LOOKING\"", "\"1\": \"LEADER\"", 1);
    let e = Lesson::from_json(&bad).unwrap_err();
    assert!(
        e.to_string().contains("step 1: unknown state \"LEADER\""),
        "{e}"
    );
    let bad = one.replacen("\"zxid\": \"0:0\"", "\"zxid\": \"zero\"", 1);
    assert!(Lesson::from_json(&bad)
        .unwrap_err()
        .to_string()
        .contains("bad zxid"));
    assert!(matches!(
        Lesson::by_name("99"),
        Err(LessonError::NotFound(_))
    ));
    // Free play refuses unknown servers and clients without touching the run.
    let mut run = LessonRun::from_name("01").unwrap();
    let before = run.cluster().trace().hash();
    assert!(run
        .apply(&zablab_core::lesson::StepAction::Kill(9))
        .is_err());
    assert!(run
        .apply(&zablab_core::lesson::StepAction::CrashClient(
            "nobody".into()
        ))
        .is_err());
    assert_eq!(run.cluster().trace().hash(), before);
}

#[test]
fn going_back_re_runs_from_the_seed_and_gives_the_same_run() {
    let mut run = LessonRun::from_name("06").unwrap();
    run.play_to_end();
    let end_hash = run.cluster().trace().hash();
    let reports = run.reports().to_vec();
    run.goto(1);
    assert_eq!(run.steps_played(), 1);
    assert_eq!(run.reports().len(), 1);
    let mut fresh = LessonRun::from_name("06").unwrap();
    fresh.step_forward();
    assert_eq!(run.cluster().trace().hash(), fresh.cluster().trace().hash());
    run.goto(usize::MAX);
    assert!(run.is_done());
    assert_eq!(run.cluster().trace().hash(), end_hash);
    assert_eq!(run.reports(), &reports[..]);
    assert_eq!(
        run.narration(Lang::En),
        Some(run.lesson().steps[3].en.as_str())
    );
    run.goto(0);
    assert_eq!(run.narration(Lang::Zh), None);
    assert_eq!(run.steps_played(), 0);
}

#[test]
fn the_text_view_shows_narration_message_flow_and_server_states() {
    let mut run = LessonRun::from_name("01-startup-election").unwrap();
    run.goto(2);
    let en = text::step_text(&run, 1, Lang::En, text::FlowOptions::default());
    assert!(en.contains("2 → 1  NOTIFICATION (2, 0:0) round 1"), "{en}");
    assert!(en.contains("Server 2 starts"), "{en}");
    assert!(en.contains("LOOKING    ELECTION   (2, 0:0)"), "{en}");
    assert!(en.contains("✓ checkpoint holds"), "{en}");
    assert!(en.contains("Answer: 2"), "{en}");
    let zh = text::step_text(&run, 1, Lang::Zh, text::FlowOptions::default());
    assert!(zh.contains("服务器 2 启动") && zh.contains("消息"), "{zh}");
    run.goto(1);
    let lost = text::step_text(&run, 0, Lang::En, text::FlowOptions::default());
    assert!(
        lost.contains("1 → 2  NOTIFICATION (1, 0:0) round 1   ✗ lost (a server is down)"),
        "{lost}"
    );
}

#[test]
fn every_lesson_has_an_exercise_and_no_two_exercises_are_the_same() {
    let lessons = all_lessons();
    let mut goals = Vec::new();
    let mut solutions = Vec::new();
    for lesson in &lessons {
        assert!(
            !lesson.exercises.is_empty(),
            "{}: every lesson has an exercise",
            lesson.name
        );
        for ex in &lesson.exercises {
            let who = format!("{} / {}", lesson.name, ex.id);
            assert_ne!(ex.solution, ex.non_solution, "{who}");
            if let Some((other, _)) = goals.iter().find(|(_, g)| *g == ex.goal) {
                panic!("{who}: the same goal as {other}");
            }
            if let Some((other, _)) = solutions
                .iter()
                .find(|(_, s): &&(String, Vec<_>)| *s == ex.solution)
            {
                panic!("{who}: the same solution as {other}");
            }
            goals.push((who.clone(), ex.goal.clone()));
            solutions.push((who, ex.solution.clone()));
        }
    }
}

/// The numbers a text mentions, sorted: every run of ASCII digits, a zxid such as `1:3` as one
/// number. Server ids, zxids, counts and times are all digits in both languages, so the two
/// narrations of a step must mention the same ones, as often.
fn numbers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let zxid_colon =
            c == ':' && !cur.is_empty() && chars.peek().is_some_and(|n| n.is_ascii_digit());
        if c.is_ascii_digit() || zxid_colon {
            cur.push(c);
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out.sort();
    out
}

#[test]
fn the_numbers_test_reads_zxids_as_one_number() {
    assert_eq!(
        numbers("server 3 at 1:124, 2 of 10"),
        ["10", "1:124", "2", "3"]
    );
    assert_eq!(
        numbers("服务器 3 在 1:124，10 台中的 2 台"),
        ["10", "1:124", "2", "3"]
    );
    assert_ne!(numbers("TRUNC 1:3"), numbers("TRUNC 1:4"));
    assert_ne!(numbers("servers 1 and 2"), numbers("服务器 1"));
}

#[test]
fn english_and_chinese_mention_the_same_numbers_in_every_step() {
    let mut mismatches = Vec::new();
    let mut compare = |what: String, en: &str, zh: &str| {
        let (ne, nz) = (numbers(en), numbers(zh));
        if ne != nz {
            mismatches.push(format!("{what}: en {ne:?} vs zh {nz:?}"));
        }
    };
    for lesson in all_lessons() {
        let name = &lesson.name;
        compare(format!("{name} title"), &lesson.title.en, &lesson.title.zh);
        for (i, step) in lesson.steps.iter().enumerate() {
            compare(format!("{name} step {}", i + 1), &step.en, &step.zh);
            if let Some(q) = &step.question {
                compare(format!("{name} step {} question", i + 1), &q.en, &q.zh);
            }
        }
        for ex in &lesson.exercises {
            compare(
                format!("{name} {} title", ex.id),
                &ex.title.en,
                &ex.title.zh,
            );
            compare(format!("{name} {} hint", ex.id), &ex.hint.en, &ex.hint.zh);
        }
    }
    assert!(mismatches.is_empty(), "\n{}", mismatches.join("\n"));
}

/// Lesson 10 step 1 says the server keeps a requested session timeout between 2 and 20 ticks
/// (tickTime 200 ms here): 2 s stands, less is raised, more is lowered.
#[test]
fn a_session_timeout_is_negotiated_between_two_and_twenty_ticks() {
    use zablab_core::lesson::{Checkpoint, StepAction};
    let mut run = LessonRun::from_name("10").unwrap();
    run.goto(1);
    for (client, asked) in [("short", 100), ("long", 60_000)] {
        run.apply(&StepAction::Connect {
            client: client.into(),
            server: 3,
            timeout_ms: asked,
            hosts: Vec::new(),
            ip: None,
        })
        .unwrap();
    }
    let want = |pairs: &[(&str, i32)]| Checkpoint {
        session_timeout_ms: pairs.iter().map(|(c, t)| (c.to_string(), *t)).collect(),
        ..Checkpoint::default()
    };
    let r = run.evaluate(&want(&[("a", 2000), ("short", 400), ("long", 4000)]));
    assert!(r.passed(), "{:?}", r.failures);
    assert_eq!(r.checked, 3);
    let r = run.evaluate(&want(&[("short", 100)]));
    assert_eq!(
        r.failures[0].to_string(),
        "session timeout of short (ms): expected 100, got 400"
    );
}

#[test]
fn predict_first_asks_before_the_step_and_answers_after_it() {
    let mut run = LessonRun::from_name("01").unwrap();
    run.goto(1);
    // Before step 2 runs: its question, no answer yet.
    let asked = text::question_lines(&run, 1, Lang::En).join("\n");
    assert!(
        asked.contains("Which server will server 1 vote for?"),
        "{asked}"
    );
    assert!(
        asked.contains("choices: 1 / 2 / 3") && !asked.contains("Answer"),
        "{asked}"
    );
    assert!(text::answer_lines(&run, 1, Some("2"), Lang::En).is_empty());
    assert!(
        text::question_lines(&run, 0, Lang::En).is_empty(),
        "step 1 asks nothing"
    );
    run.step_forward();
    let right = text::answer_lines(&run, 1, Some(" 2 "), Lang::En).join("\n");
    assert!(
        right.contains("Answer: 2") && right.contains("✓"),
        "{right}"
    );
    let wrong = text::answer_lines(&run, 1, Some("3"), Lang::Zh).join("\n");
    assert!(
        wrong.contains("答案： 2") || wrong.contains("答案：2"),
        "{wrong}"
    );
    assert!(wrong.contains("✗"), "{wrong}");
    // The body of a step leaves its question out; the full text has both, answer last.
    let body = text::step_body(&run, 1, Lang::En, text::FlowOptions::default());
    assert!(!body.contains("Which server will") && body.contains("Server 2 starts"));
    let full = text::step_text(&run, 1, Lang::En, text::FlowOptions::default());
    assert!(
        full.find("checkpoint holds") < full.find("Answer: 2"),
        "{full}"
    );
}

/// Lesson 14's engine pieces: a conditional setData carries its version, `version` and
/// `read_version` checkpoints say what they found, and the `rejected` goal only counts a
/// request sent during free play.
#[test]
fn conditional_writes_carry_their_version_and_rejected_counts_only_free_play() {
    use zablab_core::lesson::{Checkpoint, ClientOp, StepAction, ZnodeCheck};
    let mut run = LessonRun::from_name("14").unwrap();
    run.goto(3);
    let set = |client: &str, version: Option<i32>| {
        StepAction::Set(ClientOp {
            client: client.into(),
            path: "/cfg".into(),
            data: Some("z".into()),
            version,
            ..ClientOp::default()
        })
    };
    // b read version 1; a wrong version is refused and changes nothing.
    run.apply(&set("b", Some(7))).unwrap();
    let at = |v: i32| Checkpoint {
        znodes: vec![ZnodeCheck {
            path: "/cfg".into(),
            version: Some(v),
            ..ZnodeCheck::default()
        }],
        results: [("b".to_string(), "BadVersion".to_string())].into(),
        ..Checkpoint::default()
    };
    let r = run.evaluate(&at(1));
    assert!(r.passed(), "{:?}", r.failures);
    let r = run.evaluate(&at(2));
    assert!(r.failures[0]
        .to_string()
        .starts_with("version of /cfg on server 1: expected 2, got 1"));
    let r = run.evaluate(&Checkpoint {
        read_version: [("a".to_string(), 5)].into(),
        ..Checkpoint::default()
    });
    assert_eq!(
        r.failures[0].to_string(),
        "version a read: expected 5, got 1"
    );
    // -1 (no version) always wins.
    run.apply(&set("b", None)).unwrap();
    run.apply(&StepAction::RunFor(50)).unwrap();
    let r = run.evaluate(&at(2));
    assert_eq!(
        r.failures.len(),
        1,
        "only b's result differs: {:?}",
        r.failures
    );
    assert_eq!(
        r.failures[0].to_string(),
        "result of b's last request: expected BadVersion, got ok"
    );

    // The goal: b's BadVersion from before free play does not count.
    let lesson = Lesson::by_name("14").unwrap();
    let ex = lesson
        .exercises
        .iter()
        .position(|e| e.id == "prevent-a-lost-update")
        .unwrap();
    let mut run = LessonRun::for_exercise(lesson.clone(), ex).unwrap();
    assert!(!run.check_exercise(ex).unwrap().passed, "nothing sent yet");
    run.apply(&set("b", Some(1))).unwrap();
    assert!(
        !run.check_exercise(ex).unwrap().passed,
        "b's write succeeded: version 1 matched"
    );
    run.apply(&set("b", Some(1))).unwrap();
    assert!(run.check_exercise(ex).unwrap().passed);
}
