//! SQL assembled at run time (a filter with optional parts, a multi-row insert) from constant
//! fragments and numbered placeholders: sqlx's `Any` query builder emits `?`, which PostgreSQL
//! rejects, so the numbering is done here, once.

use sqlx::AssertSqlSafe;

/// A query on the `Any` driver, as `sqlx::query` makes it.
pub type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    Text(String),
    Int(i64),
}

impl From<String> for SqlValue {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<&str> for SqlValue {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<i64> for SqlValue {
    fn from(int: i64) -> Self {
        Self::Int(int)
    }
}

/// Constant fragments and `$n` placeholders; values are always bound, never spliced in.
#[derive(Debug, Default)]
pub struct Sql {
    text: String,
    values: Vec<SqlValue>,
}

impl Sql {
    pub fn new(fragment: &'static str) -> Self {
        Self { text: fragment.to_owned(), values: Vec::new() }
    }

    pub fn push(&mut self, fragment: &'static str) -> &mut Self {
        self.text.push_str(fragment);
        self
    }

    /// Appends the next placeholder (`$1`, `$2`, ...) and binds `value` to it.
    pub fn bind(&mut self, value: impl Into<SqlValue>) -> &mut Self {
        self.values.push(value.into());
        self.text.push('$');
        self.text.push_str(&self.values.len().to_string());
        self
    }

    /// Placeholders for every value, separated by commas: `$3, $4, $5` (for `IN (...)`).
    pub fn bind_list<V: Into<SqlValue>>(&mut self, values: impl IntoIterator<Item = V>) -> &mut Self {
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(value);
        }
        self
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The query, kept prepared on each connection like any other: for text of a few shapes
    /// (a filter with optional parts) that runs often.
    pub fn into_query(self) -> AnyQuery<'static> {
        self.build(true)
    }

    /// The query, not kept prepared: for text whose shape changes with its data (an insert of
    /// as many rows as there are, an `IN` list as long as a batch), which would fill every
    /// connection's statement cache with statements used once, memory and all.
    pub fn into_one_off_query(self) -> AnyQuery<'static> {
        self.build(false)
    }

    fn build(self, persistent: bool) -> AnyQuery<'static> {
        // Only constant fragments and placeholders reach the text; every value is bound.
        let mut query = sqlx::query(AssertSqlSafe(self.text)).persistent(persistent);
        for value in self.values {
            query = match value {
                SqlValue::Text(text) => query.bind(text),
                SqlValue::Int(int) => query.bind(int),
            };
        }
        query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_binding_order() {
        let mut sql = Sql::new("SELECT * FROM t WHERE a = ");
        sql.bind("x").push(" AND b IN (").bind_list([1_i64, 2, 3]).push(")");
        assert_eq!(sql.text(), "SELECT * FROM t WHERE a = $1 AND b IN ($2, $3, $4)");
    }
}
