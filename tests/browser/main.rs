//! Browser tests in real headless Chromium (Debian's `chromium` and
//! `chromium-driver`), driven over WebDriver.

mod help_center;
