//! Notify: the scheduler and its jobs, sending email and webhooks, calendar feeds, unsubscribe
//! links, and the jobs page.

pub mod feeds;
pub mod jobs;
pub mod jobs_page;
pub mod send;
pub mod unsubscribe;
