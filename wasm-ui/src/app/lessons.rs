//! The component's lesson slot: the lesson link in the address bar and the lesson buttons
//! ([`LessonMsg`]).

use yew::Context;

#[cfg(not(feature = "lessons"))]
use crate::browser::navigate;
use crate::browser::{base_url, lang_code, local_storage, replace_url, LANG_KEY};
use crate::lesson::LessonMode;

#[cfg(feature = "lessons")]
use super::Msg;
use super::{App, LessonMsg, Selection};

impl App {
    pub(super) fn sync_view_t(&mut self) {
        self.view_t = match &self.lesson {
            Some(m) => m.view_time(),
            None => self.cluster().now().0 as f64,
        };
    }

    /// `?lesson=NAME&step=N&lang=xx`: opens this lesson at this step.
    pub fn lesson_link(&self) -> String {
        match &self.lesson {
            Some(m) => format!(
                "{}?lesson={}&step={}&lang={}",
                base_url(),
                m.name(),
                m.steps_played(),
                lang_code(self.lang)
            ),
            None => base_url(),
        }
    }

    /// Keeps the address bar on the lesson and step shown (a shareable link).
    pub(super) fn lesson_url(&self) {
        if self.lesson.is_some() {
            replace_url(&self.lesson_link());
        }
    }

    /// Starts fetching lesson `name`'s file (`dist/lessons/NAME.json`); [`LessonMsg::Loaded`]
    /// opens it at `steps` (`picked`: from the picker, else from the address). The lessons module carries no lesson file: each is fetched when
    /// it is opened.
    #[cfg(feature = "lessons")]
    fn load_lesson(&mut self, ctx: &Context<App>, name: &str, steps: usize, picked: bool) {
        let name = match crate::catalog::resolve(name) {
            Ok(n) => n,
            Err(e) if picked => {
                self.error = Some(e);
                return;
            }
            Err(e) => {
                self.error.get_or_insert(e);
                return;
            }
        };
        self.loading = Some(name);
        let link = ctx.link().clone();
        wasm_bindgen_futures::spawn_local(async move {
            let file = crate::browser::fetch_text(&crate::catalog::file_url(name)).await;
            link.send_message(Msg::Lesson(LessonMsg::Loaded {
                name,
                steps,
                picked,
                file,
            }));
        });
    }

    /// The lab page has no lesson engine: the lesson of the address is an error (`index.html`
    /// loads the lessons module for `?lesson=`).
    #[cfg(not(feature = "lessons"))]
    fn load_lesson(&mut self, _ctx: &Context<App>, name: &str, steps: usize, _picked: bool) {
        if let Err(e) = LessonMode::open(name, steps) {
            self.error.get_or_insert(e);
        }
    }

    pub(super) fn lesson_msg(&mut self, ctx: &Context<App>, msg: LessonMsg) {
        match msg {
            LessonMsg::Pick(name) if name.is_empty() => {
                self.loading = None;
                if self.lesson.take().is_some() {
                    replace_url(&base_url());
                }
                self.selection = Selection::None;
                self.error = None;
                self.view_t = self.lab.now_ms() as f64;
            }
            // The lab page has no lesson engine: the lessons module opens the lesson.
            #[cfg(not(feature = "lessons"))]
            LessonMsg::Pick(name) => navigate(&format!(
                "{}?lesson={name}&step=0&lang={}",
                base_url(),
                lang_code(self.lang)
            )),
            #[cfg(feature = "lessons")]
            LessonMsg::Pick(name) => self.load_lesson(ctx, &name, 0, true),
            LessonMsg::Open(name, steps) => self.load_lesson(ctx, &name, steps, false),
            LessonMsg::Loaded { name, .. } if self.loading != Some(name) => {}
            LessonMsg::Loaded {
                name,
                steps,
                picked,
                file,
            } => {
                self.loading = None;
                let opened = file
                    .map_err(|e| {
                        format!(
                            "could not load lesson {name} ({}): {e}. Check the connection and reload the page.",
                            crate::catalog::file_url(name)
                        )
                    })
                    .and_then(|text| LessonMode::from_file(&text, steps));
                match opened {
                    // The lesson of the address: as if it had opened with the page.
                    Ok(m) if !picked => {
                        self.lesson = Some(m);
                        self.sync_view_t();
                    }
                    Ok(m) => {
                        self.lesson = Some(m);
                        self.playing = false;
                        self.selection = Selection::None;
                        self.error = None;
                        self.share_url = None;
                        self.answer_draft.clear();
                        self.sync_view_t();
                        self.lesson_url();
                    }
                    Err(e) if !picked => {
                        self.error.get_or_insert(e);
                    }
                    Err(e) => self.error = Some(e),
                }
            }
            LessonMsg::Next => self.step(),
            LessonMsg::Back => self.step_back(),
            LessonMsg::Lang(l) => {
                self.lang = l;
                if let Some(s) = local_storage() {
                    let _ = s.set_item(LANG_KEY, lang_code(l));
                }
                self.lesson_url();
            }
            LessonMsg::AnswerDraft(t) => self.answer_draft = t,
            LessonMsg::Answer(step, choice) => {
                let given = choice.unwrap_or_else(|| self.answer_draft.clone());
                // Predict first: an answer to the step not yet played plays it, then checks.
                let predicted = self
                    .lesson
                    .as_ref()
                    .is_some_and(|m| m.exercise.is_none() && m.steps_played() == step);
                if predicted {
                    self.step();
                }
                if let Some(m) = &mut self.lesson {
                    m.answer(step, &given);
                }
            }
            LessonMsg::Exercise(i) => {
                if let Some(m) = &mut self.lesson {
                    match m.start_exercise(i) {
                        Ok(()) => {
                            self.error = None;
                            self.selection = Selection::None;
                            self.playing = true;
                        }
                        Err(e) => self.error = Some(e),
                    }
                }
                self.sync_view_t();
            }
            LessonMsg::Check => {
                self.playing = false;
                if let Some(m) = &mut self.lesson {
                    m.check();
                }
            }
            LessonMsg::RunFor(ms) => {
                if let Some(m) = &mut self.lesson {
                    m.run_for(ms);
                }
                self.sync_view_t();
            }
            LessonMsg::PlaySpeed(s) => {
                if let Some(m) = &mut self.lesson {
                    m.speed = s.clamp(1, 1000);
                }
            }
            LessonMsg::Skip => {
                if let Some(m) = &mut self.lesson {
                    m.finish();
                }
                self.sync_view_t();
            }
            LessonMsg::PausePlayback => {
                if let Some(m) = &mut self.lesson {
                    m.toggle_pause();
                }
            }
            LessonMsg::ShowRecord(r) => {
                if let Some(m) = &mut self.lesson {
                    m.seek_record(r);
                }
                self.sync_view_t();
            }
            LessonMsg::EndExercise => {
                self.playing = false;
                if let Some(m) = &mut self.lesson {
                    let n = m.step_count();
                    m.goto(n);
                }
                self.selection = Selection::None;
                self.sync_view_t();
                self.lesson_url();
            }
        }
    }
}
