-- Shipments and their tracking history. Portable SQL: TEXT ids and timestamps (RFC 3339, UTC).
--
-- One row per order shipping has heard of, whichever message came first: the order's
-- confirmation (a shipment) or a cancellation that overtook it (a tombstone: no shipment id,
-- status `cancelled`, nothing else). Both are keyed on the order, so that a confirmation and a
-- cancellation handled at once cannot both be written.
-- `status`: label_created, dispatched, in_transit, out_for_delivery, delivered, cancelled.
CREATE TABLE shipments (
    order_id TEXT PRIMARY KEY,
    shipment_id TEXT UNIQUE,
    status TEXT NOT NULL,
    customer_id TEXT,
    carrier TEXT,
    tracking_number TEXT UNIQUE,
    ship_to_name TEXT,
    ship_to_line1 TEXT,
    ship_to_line2 TEXT,
    ship_to_city TEXT,
    ship_to_postal_code TEXT,
    ship_to_country TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CHECK (
        (shipment_id IS NULL AND status = 'cancelled')
        OR (shipment_id IS NOT NULL AND customer_id IS NOT NULL AND carrier IS NOT NULL
            AND tracking_number IS NOT NULL AND ship_to_name IS NOT NULL AND ship_to_line1 IS NOT NULL
            AND ship_to_city IS NOT NULL AND ship_to_postal_code IS NOT NULL AND ship_to_country IS NOT NULL)
    )
);
-- The admin list pages through shipments by id, optionally of one status.
CREATE INDEX shipments_by_status ON shipments (status, shipment_id);

-- Every status a shipment entered, when. `step` orders them (each status is entered once).
CREATE TABLE tracking_events (
    shipment_id TEXT NOT NULL REFERENCES shipments (shipment_id),
    status TEXT NOT NULL,
    step BIGINT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (shipment_id, status)
);
