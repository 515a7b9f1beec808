//! The component's bug museum: the exhibit's link in the address bar and the museum's buttons
//! ([`MuseumMsg`]). The mutated runs exist only in the museum module (`--features museum`);
//! elsewhere picking an exhibit loads that module.

use crate::browser::{base_url, lang_code, navigate, replace_url};
use crate::museum::MuseumRun;

use super::{default_scenario, App, MuseumMsg};

impl App {
    /// `?museum=NAME&fix=0|1&lang=xx`: this exhibit, with the bug or the fix on.
    pub(super) fn museum_link(&self, run: MuseumRun) -> String {
        format!(
            "{}?museum={}&fix={}&lang={}",
            base_url(),
            crate::museum::EXHIBITS[run.exhibit].name(),
            u8::from(run.fixed),
            lang_code(self.lang)
        )
    }

    pub(super) fn museum_msg(&mut self, msg: MuseumMsg) {
        let run = match msg {
            MuseumMsg::Pick(name) if name.is_empty() => {
                if self.museum.is_some() {
                    self.load(default_scenario(1));
                }
                return;
            }
            MuseumMsg::Pick(name) => match crate::museum::find(&name) {
                Some(exhibit) => MuseumRun {
                    exhibit,
                    fixed: false,
                },
                None => {
                    self.error = Some(format!("no museum exhibit `{name}`"));
                    return;
                }
            },
            MuseumMsg::SetFixed(fixed) => match self.museum {
                Some(r) => MuseumRun { fixed, ..r },
                None => return,
            },
            MuseumMsg::Replay => match self.museum {
                Some(r) => r,
                None => return,
            },
        };
        let url = self.museum_link(run);
        if cfg!(feature = "museum") {
            self.load(crate::museum::EXHIBITS[run.exhibit].scenario(run.fixed));
            self.museum = Some(run);
            replace_url(&url);
        } else {
            // The mutated runs only exist in the museum module.
            navigate(&url);
        }
    }
}
