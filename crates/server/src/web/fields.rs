//! A page's refused form field, as the `field.html` macros read it: the page keeps its refusal as
//! `(the field's id, the message)`, optional or not — ids as `&'static str` or `String` — and
//! each field asks whether it is the one refused, to show the NHS.UK error message beside it.

/// A page's refused field, if any: `Option<(id, message)>`.
pub(crate) trait Refusal {
    /// The message, when `id` is the field refused.
    fn on(&self, id: &str) -> Option<&str>;
}

impl<F: AsRef<str>, M: AsRef<str>> Refusal for Option<(F, M)> {
    fn on(&self, id: &str) -> Option<&str> {
        self.as_ref()
            .filter(|(f, _)| f.as_ref() == id)
            .map(|(_, m)| m.as_ref())
    }
}

/// A page that always has a refusal slot, its id empty when nothing was refused.
impl<F: AsRef<str>, M: AsRef<str>> Refusal for (F, M) {
    fn on(&self, id: &str) -> Option<&str> {
        (self.0.as_ref() == id).then(|| self.1.as_ref())
    }
}

impl<T: Refusal + ?Sized> Refusal for &T {
    fn on(&self, id: &str) -> Option<&str> {
        (**self).on(id)
    }
}

/// The message for the field `id`, when it is the one refused; for templates, which cannot name
/// a trait's method without it in scope.
pub(crate) fn error_on<'a>(problem: &'a impl Refusal, id: &str) -> Option<&'a str> {
    problem.on(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_refused_field_has_the_message() {
        let p: Option<(&'static str, String)> = Some(("hours", "Enter a number".into()));
        assert_eq!(error_on(&p, "hours"), Some("Enter a number"));
        assert_eq!(error_on(&&p, "site"), None);
        let none: Option<(String, String)> = None;
        assert_eq!(error_on(&none, "hours"), None);
        let slot = (String::new(), String::new());
        assert_eq!(error_on(&slot, "hours"), None);
    }
}
