//! The lab page's stand-in for `lesson.rs` (built without the `lessons` feature): a
//! [`LessonMode`] that cannot exist, so the page never holds a lesson and none of the lesson
//! engine, its parser or the lesson files is linked in. Picking a lesson loads the lessons
//! module instead (`?lesson=NAME`, see `index.html`).

use zablab_core::Sid;

use crate::lab::{BandRow, LabAction, LabCluster};

/// No value of this type exists.
enum Never {}

/// A lesson shown in the lab: never, in this build.
pub struct LessonMode {
    never: Never,
    pub exercise: Option<usize>,
    pub bands: Vec<(Sid, BandRow)>,
    pub speed: u32,
}

impl LessonMode {
    /// Lessons are not in this build: the page loads the lessons module for `?lesson=`.
    pub fn open(_name: &str, _steps: usize) -> Result<LessonMode, String> {
        Err("the lessons are not in this build: reload the page to open the lesson".into())
    }

    /// Lessons are not in this build.
    pub fn from_file(_text: &str, _steps: usize) -> Result<LessonMode, String> {
        LessonMode::open("", 0)
    }

    /// Unreachable: there is no lesson to show.
    pub fn never(&self) -> ! {
        match self.never {}
    }

    pub fn name(&self) -> &str {
        self.never()
    }
    pub fn cluster(&self) -> &LabCluster {
        self.never()
    }
    pub fn steps_played(&self) -> usize {
        self.never()
    }
    pub fn step_count(&self) -> usize {
        self.never()
    }
    pub fn goto(&mut self, _steps: usize) {
        self.never()
    }
    pub fn back(&mut self) {
        self.never()
    }
    pub fn answer(&mut self, _step: usize, _given: &str) -> Option<bool> {
        self.never()
    }
    pub fn start_exercise(&mut self, _index: usize) -> Result<(), String> {
        self.never()
    }
    pub fn check(&mut self) {
        self.never()
    }
    pub fn animating(&self) -> bool {
        self.never()
    }
    pub fn next_animated(&mut self) -> bool {
        self.never()
    }
    pub fn finish(&mut self) {
        self.never()
    }
    pub fn advance(&mut self, _wall_ms: f64) -> f64 {
        self.never()
    }
    pub fn view_time(&self) -> f64 {
        self.never()
    }
    pub fn toggle_pause(&mut self) {
        self.never()
    }
    pub fn seek_record(&mut self, _record: usize) {
        self.never()
    }
    pub fn highlight(&self) -> Option<&zablab_core::lesson::Highlight> {
        self.never()
    }
    pub fn act(&mut self, _a: &LabAction) -> Result<(), String> {
        self.never()
    }
    pub fn run_for(&mut self, _ms: u64) {
        self.never()
    }
    pub fn write(
        &mut self,
        _server: Sid,
        _set: bool,
        _path: &str,
        _data: &str,
    ) -> Result<(), String> {
        self.never()
    }
}
