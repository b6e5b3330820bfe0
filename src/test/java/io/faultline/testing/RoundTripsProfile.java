package io.faultline.testing;

import io.quarkus.test.junit.QuarkusTestProfile;

import java.util.Map;

/**
 * The datasource's connections made through {@link RoundTrips}, in plain text, with statements prepared on the server
 * from their first run (PgJDBC's default is the fifth), so that a count taken after one warm-up run is the count of
 * every later run. The scheduled jobs that use the database run rarely, out of the counted stretches' way.
 */
public class RoundTripsProfile implements QuarkusTestProfile {

    @Override
    public Map<String, String> getConfigOverrides() {
        return Map.of(
                "quarkus.datasource.jdbc.additional-jdbc-properties.socketFactory", RoundTrips.class.getName(),
                "quarkus.datasource.jdbc.additional-jdbc-properties.sslmode", "disable",
                "quarkus.datasource.jdbc.additional-jdbc-properties.prepareThreshold", "1",
                "faultline.correlate.close-every", "1h");
    }
}
