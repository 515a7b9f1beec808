//! `zablab lesson`: replays the lessons of `lessons/` in the terminal, step by step, with the
//! same engine and text view the browser lab uses (`zablab_core::lesson`).
//!
//! ```text
//! zablab lesson list
//! zablab lesson <name> [--lang en|zh] [--auto] [--pings]
//! zablab lesson <name> --exercise <id> [--lang en|zh]   (commands on stdin, then `check`)
//! ```
//!
//! Predict first: before a step that asks a question, the player prints the question (against
//! the state before the step) and reads the student's prediction; the step's narration,
//! messages, checkpoint and the computed answer follow. `--auto` (or a closed stdin) plays
//! through and prints each answer after its step.
//!
//! A replay exits with 1 if a checkpoint does not hold; an exercise exits with 0 once its goal
//! is reached and with 1 (after printing the hint) otherwise.

use std::io::{BufRead, Write};

use zablab_core::lesson::{catalog, text, Lang, Lesson, LessonRun, LinkSpec, StepAction};

const USAGE: &str = "usage:
  zablab lesson list
  zablab lesson <name> [--lang en|zh] [--auto] [--pings]
  zablab lesson <name> --exercise <id> [--lang en|zh]";

const COMMANDS: &str = "commands: start N | kill N | restart N | wipe N | isolate N | cut A B | heal A B | heal | run MS | check | quit, or a JSON action as in lesson files";

/// Prints a line; a closed stdout (`zablab lesson 01 --auto | head`) ends the program quietly.
fn say(line: &str) {
    if writeln!(std::io::stdout().lock(), "{line}").is_err() {
        std::process::exit(0);
    }
}

fn fail(msg: &str) -> i32 {
    eprintln!("zablab lesson: {msg}\n{USAGE}");
    2
}

/// Runs `zablab lesson …` with the arguments after `lesson`; returns the exit code.
pub fn run(args: Vec<String>) -> i32 {
    let mut name = None;
    let mut lang = Lang::En;
    let mut auto = false;
    let mut exercise = None;
    let mut opts = text::FlowOptions::default();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--lang" => match it.next().as_deref().and_then(Lang::parse) {
                Some(l) => lang = l,
                None => return fail("--lang needs en or zh"),
            },
            "--auto" => auto = true,
            "--pings" => opts.show_pings = true,
            "--exercise" => match it.next() {
                Some(id) => exercise = Some(id),
                None => return fail("--exercise needs an exercise id"),
            },
            "-h" | "--help" => {
                say(USAGE);
                return 0;
            }
            _ if name.is_none() && !a.starts_with("--") => name = Some(a),
            _ => return fail(&format!("unexpected argument `{a}`")),
        }
    }
    let Some(name) = name else {
        return fail("which lesson? (`zablab lesson list`)");
    };
    if name == "list" {
        for (file, json) in catalog() {
            let title = Lesson::from_json(json)
                .map(|l| l.title.get(lang).to_string())
                .unwrap_or_else(|e| format!("(broken: {e})"));
            say(&format!("{file}  {title}"));
        }
        return 0;
    }
    let lesson = match Lesson::by_name(&name) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("zablab lesson: {e}");
            return 2;
        }
    };
    match exercise {
        Some(id) => play_exercise(lesson, &id, lang),
        None => replay(lesson, lang, auto, opts),
    }
}

fn replay(lesson: Lesson, lang: Lang, auto: bool, opts: text::FlowOptions) -> i32 {
    say(&format!("{} — {}\n", lesson.name, lesson.title.get(lang)));
    let mut run = match LessonRun::new(lesson) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("zablab lesson: {e}");
            return 2;
        }
    };
    let stdin = std::io::stdin();
    let mut interactive = !auto;
    let mut failed = 0;
    // Reads one line of stdin after `prompt`; None once stdin is closed (then the rest plays
    // without stopping).
    let ask = |prompt: &str, interactive: &mut bool| -> Option<String> {
        print!("{prompt} ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line).unwrap_or(0) == 0 {
            *interactive = false;
            return None;
        }
        Some(line.trim().to_string())
    };
    while !run.is_done() {
        let index = run.steps_played();
        // Predict first: a step's question is asked against the state before the step runs;
        // its narration, checkpoint and answer come after the student's input.
        let question = text::question_lines(&run, index, lang);
        let mut predicted = None;
        if interactive && !question.is_empty() {
            for line in &question {
                say(line);
            }
            let prompt = match lang {
                Lang::En => "[your prediction, then Enter]",
                Lang::Zh => "[输入你的预测，然后回车]",
            };
            predicted = ask(prompt, &mut interactive);
        } else if interactive && index > 0 {
            let prompt = match lang {
                Lang::En => "[Enter: next step]",
                Lang::Zh => "[回车：下一步]",
            };
            ask(prompt, &mut interactive);
        }
        let Some(report) = run.step_forward() else {
            break;
        };
        if !report.check.passed() {
            failed += 1;
        }
        match &predicted {
            Some(given) => {
                say(&text::step_body(&run, index, lang, opts));
                if let Some(q) = run.lesson().steps[index].question.as_ref() {
                    say(&format!("  ? {}", q.text(lang)));
                }
                for line in text::answer_lines(&run, index, Some(given), lang) {
                    say(&line);
                }
                say("");
            }
            None => say(&text::step_text(&run, index, lang, opts)),
        }
    }
    let exercises = text::exercises_text(&run, lang);
    if !exercises.is_empty() {
        say(&exercises);
        let how = match lang {
            Lang::En => "  (zablab lesson <name> --exercise <id>)",
            Lang::Zh => "  （zablab lesson <名称> --exercise <id>）",
        };
        say(how);
    }
    if failed > 0 {
        eprintln!("zablab lesson: {failed} checkpoint(s) did not hold");
        return 1;
    }
    0
}

/// One free-play command: a short word form or a JSON action as in lesson files.
fn parse_command(line: &str) -> Result<StepAction, String> {
    if line.starts_with('{') || line.starts_with('"') {
        return serde_json::from_str(line).map_err(|e| e.to_string());
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let num = |i: usize| -> Result<u64, String> {
        words
            .get(i)
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| format!("`{}` needs a number", words[0]))
    };
    let link = |both| -> Result<LinkSpec, String> {
        Ok(LinkSpec {
            from: num(1)?,
            to: num(2)?,
            both,
            extra_ms: 0,
        })
    };
    Ok(match words.first().copied().unwrap_or("") {
        "start" => StepAction::Start(num(1)?),
        "kill" => StepAction::Kill(num(1)?),
        "restart" => StepAction::Restart(num(1)?),
        "wipe" => StepAction::Wipe(num(1)?),
        "isolate" => StepAction::Isolate(num(1)?),
        "cut" => StepAction::Cut(link(true)?),
        "heal" if words.len() == 1 => StepAction::HealAll,
        "heal" => StepAction::Heal(link(true)?),
        "run" => StepAction::RunFor(num(1)?),
        w => return Err(format!("unknown command `{w}`; {COMMANDS}")),
    })
}

fn play_exercise(lesson: Lesson, id: &str, lang: Lang) -> i32 {
    let Some(index) = lesson.exercises.iter().position(|e| e.id == id) else {
        let ids: Vec<&str> = lesson.exercises.iter().map(|e| e.id.as_str()).collect();
        return fail(&format!(
            "no exercise `{id}` (this lesson has: {})",
            ids.join(", ")
        ));
    };
    let title = lesson.exercises[index].title.get(lang).to_string();
    let mut run = match LessonRun::for_exercise(lesson, index) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("zablab lesson: {e}");
            return 2;
        }
    };
    say(&format!("{title}\n{COMMANDS}\n"));
    for line in text::server_table(&run, lang) {
        say(&line);
    }
    let mut verdict = None;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "quit" {
            break;
        }
        if line == "check" {
            let r = run.check_exercise(index).expect("exercise exists");
            print_verdict(&r, lang);
            verdict = Some(r.passed);
            if r.passed {
                return 0;
            }
            continue;
        }
        match parse_command(line).and_then(|a| run.apply(&a)) {
            Ok(()) => {
                for l in text::server_table(&run, lang) {
                    say(&l);
                }
            }
            Err(e) => say(&format!("  ? {e}")),
        }
    }
    if verdict.is_none() {
        let r = run.check_exercise(index).expect("exercise exists");
        print_verdict(&r, lang);
        verdict = Some(r.passed);
    }
    if verdict == Some(true) {
        0
    } else {
        1
    }
}

fn print_verdict(r: &zablab_core::lesson::ExerciseResult, lang: Lang) {
    match (&r.hint, lang) {
        (None, Lang::En) => println!("  ✓ goal reached: {}", r.observed),
        (None, Lang::Zh) => println!("  ✓ 目标达成：{}", r.observed),
        (Some(h), Lang::En) => println!("  ✗ not yet: {}\n  hint: {}", r.observed, h.en),
        (Some(h), Lang::Zh) => println!("  ✗ 尚未完成：{}\n  提示：{}", r.observed, h.zh),
    }
}
