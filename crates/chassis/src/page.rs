//! Keyset pagination, as every listing does it: a checked page size, the rows fetched one past
//! it, and the key of the last row returned as where the next page starts.

use crate::Problem;

/// The page size asked for (`None`: `default`), refused with a 400 outside `1..=max`.
pub fn limit(asked: Option<u32>, default: u32, max: u32) -> Result<u32, Problem> {
    let limit = asked.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(Problem::invalid_parameter("limit", &format!("must be between 1 and {max}")));
    }
    Ok(limit)
}

/// How many rows to fetch for a page of `limit`: one more, to know whether another page follows.
pub fn fetch(limit: u32) -> u32 {
    limit.saturating_add(1)
}

/// The page from `rows` (fetched with [`fetch`]), and the key of its last row when more follow.
pub fn split<T, K>(mut rows: Vec<T>, limit: u32, key: impl Fn(&T) -> K) -> (Vec<T>, Option<K>) {
    let limit = limit as usize;
    if rows.len() <= limit {
        return (rows, None);
    }
    rows.truncate(limit);
    let next = rows.last().map(key);
    (rows, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_knows_whether_another_follows() {
        assert_eq!(split(vec![1, 2, 3], 2, |n| *n), (vec![1, 2], Some(2)));
        assert_eq!(split(vec![1, 2], 2, |n| *n), (vec![1, 2], None));
        assert_eq!(split(Vec::<i32>::new(), 2, |n| *n), (vec![], None));
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(limit(None, 50, 200).unwrap(), 50);
        assert_eq!(limit(Some(200), 50, 200).unwrap(), 200);
        for bad in [0, 201] {
            assert_eq!(limit(Some(bad), 50, 200).unwrap_err().status, 400);
        }
        assert_eq!(fetch(u32::MAX), u32::MAX);
    }
}
