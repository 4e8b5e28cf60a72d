-- The saga phase each timeline entry left the order in, so that the time spent in a phase can be
-- measured from the timeline. Entries written before this migration have none.
ALTER TABLE order_timeline ADD COLUMN phase TEXT;
