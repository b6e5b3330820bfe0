package io.faultline.testing;

import jakarta.inject.Singleton;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;

/**
 * The {@link Clock} of every {@code @QuarkusTest} (it replaces the production {@code @DefaultBean}): system time
 * until a test {@link #set}s it, then frozen and moved only by {@link #advance}, so that tests replay hours of
 * windows in milliseconds. The application is shared by the test classes: a test that sets it must
 * {@link #release} it afterwards.
 */
@Singleton
public class TestClock extends Clock {

    private volatile Instant frozen;

    public void set(Instant at) {
        frozen = at;
    }

    public Instant advance(Duration by) {
        Instant next = instant().plus(by);
        frozen = next;
        return next;
    }

    public void release() {
        frozen = null;
    }

    /** Whether a test has set the clock (else it follows system time). */
    public boolean isFrozen() {
        return frozen != null;
    }

    @Override
    public Instant instant() {
        Instant at = frozen;
        return at != null ? at : Instant.now();
    }

    @Override
    public ZoneId getZone() {
        return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
        return this;
    }
}
