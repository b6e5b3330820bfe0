package io.faultline.common;

import java.time.Instant;

/**
 * The instants Faultline takes from callers, in a body or a query: 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
 * PostgreSQL's {@code timestamptz} reaches further (4713 BC to 294276 AD), but not every reading of it does: the
 * prediction window reads times as epoch microseconds in a {@code bigint}, which ends in 294247, and a time near
 * either end cannot have an interval added to it. A caller's time outside this range is a mistake (a clock, or
 * milliseconds sent as seconds), answered with a 4xx that names the field, never stored.
 */
public final class StorableTime {

    public static final Instant EARLIEST = Instant.EPOCH;
    public static final Instant LATEST = Instant.parse("9999-12-31T23:59:59Z");

    /** The range as a caller reads it in a problem's detail. */
    public static final String RANGE = EARLIEST + " to " + LATEST;

    private StorableTime() {
    }

    public static boolean contains(Instant at) {
        return !at.isBefore(EARLIEST) && !at.isAfter(LATEST);
    }

    /** Whether epoch seconds (already checked finite and non-negative) lie within the range. */
    public static boolean containsEpochSeconds(double seconds) {
        return seconds >= 0 && seconds <= LATEST.getEpochSecond();
    }
}
