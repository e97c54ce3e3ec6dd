//! The progress bar `imax client send` and `get` draw on a terminal for large files, as the
//! browser's upload page shows one (issue 30 item 6). Nothing is drawn, and the output is
//! unchanged, when stdout or stderr is not a terminal: scripts and tests parse that output.

use imax_gateway::client::{Direction, Progress, ProgressSink};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;

/// Files smaller than this go too fast for a bar to tell anyone anything (1 MiB).
const LARGE: u64 = 1024 * 1024;

/// A bar for one direction of one transfer, drawn on stderr; hidden until the transfer's
/// size is known to be large.
pub struct TerminalBar {
    direction: Direction,
    bar: ProgressBar,
}

impl TerminalBar {
    /// A bar for `direction`, or none when stdout or stderr is not a terminal.
    pub fn on_terminal(direction: Direction) -> Option<Arc<TerminalBar>> {
        if !(std::io::stdout().is_terminal() && std::io::stderr().is_terminal()) {
            return None;
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_message(match direction {
            Direction::Upload => "sending",
            Direction::Download => "receiving",
        });
        Some(Arc::new(TerminalBar { direction, bar }))
    }

    /// The listener a client takes.
    pub fn sink(self: &Arc<Self>) -> ProgressSink {
        self.clone()
    }

    /// Takes the bar off the terminal before the command prints its answer.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// Starts drawing: a bar with the size when it is known, a running count otherwise (an
    /// answer streamed without a Content-Length).
    fn show(&self) {
        let template = match self.bar.length() {
            Some(_) => "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            None => "{msg} {spinner} {bytes} {bytes_per_sec}",
        };
        let style = ProgressStyle::with_template(template)
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        self.bar.set_style(style);
        self.bar.set_draw_target(ProgressDrawTarget::stderr());
        self.bar.tick();
    }
}

impl Progress for TerminalBar {
    fn expect(&self, direction: Direction, total: u64) {
        if direction == self.direction && total >= LARGE {
            self.bar.set_length(total);
            self.show();
        }
    }

    fn advance(&self, direction: Direction, bytes: u64) {
        if direction != self.direction {
            return;
        }
        let before = self.bar.position();
        self.bar.inc(bytes);
        if self.bar.is_hidden() && before < LARGE && before + bytes >= LARGE {
            self.show();
        }
    }
}
