-- The people list's filter matches the start of a person's surname too (issue 26: people type
-- "smith" to find Jane Smith), through an index like the other filtered columns' (migration
-- 0018). The surname is the name's last word: the name without everything up to its last space
-- (rtrim strips the last word, replace takes what is left off the front), the whole name when
-- it has no space. The expression is store::lists::SURNAME's, character for character, so the
-- planner matches it to this index; it is the same in both dialects.
CREATE INDEX people_surname_lower ON people (lower(replace(name, rtrim(name, replace(name, ' ', '')), '')));
