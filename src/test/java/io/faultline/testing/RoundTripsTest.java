package io.faultline.testing;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The round-trip counter shares its recording through the system properties, which every later Quarkus start copies
 * as strings (Narayana's {@code setProperty}): a value of another type left there failed 16 test applications' start
 * with a NullPointerException in the CI run after the counter came in.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RoundTripsTest {

    @Test
    void a_recording_leaves_only_strings_in_the_system_properties() {
        RoundTrips.Tally tally = RoundTrips.record(() -> assertThat(System.getProperties().values())
                .as("the recording, while it runs").anyMatch(v -> !(v instanceof String)));

        assertThat(tally.count()).isZero();
        assertThat(System.getProperties().values()).allMatch(String.class::isInstance);
    }
}
