package io.faultline.signals;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.Api;
import io.restassured.http.ContentType;
import io.restassured.response.ValidatableResponse;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.Map;

import static io.restassured.RestAssured.given;

/** The signals endpoints as a client with the test key sees them. */
final class SignalsApi {

    static final String PROBLEM = "application/problem+json";

    private SignalsApi() {
    }

    static ValidatableResponse post(String kind, Object body) {
        return given().log().ifValidationFails().header("Authorization", "Bearer " + Api.KEY)
                .contentType(ContentType.JSON).body(body).when().post("/api/v1/signals/" + kind).then().log()
                .ifValidationFails();
    }

    /** The episodes of one index or pipeline. */
    static ValidatableResponse failuresOf(String subject) {
        return Api.failures("category=DATA&deployment=" + subject).statusCode(200);
    }

    /** A map in the order given: {@code map("a", 1, "b", 2)}. */
    static Map<String, Object> map(Object... pairs) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            m.put((String) pairs[i], pairs[i + 1]);
        }
        return m;
    }

    /**
     * Until closed, the database refuses to store a failure of {@code deployment} (a trigger on the inbox): what a
     * database going away between storing a signal and raising its failure looks like to the signal.
     */
    static AutoCloseable refuseFailuresOf(AgroalDataSource dataSource, String deployment) throws SQLException {
        String name = "test_refuse_" + Integer.toHexString(deployment.hashCode() & 0x7fffffff);
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.execute("create or replace function " + name + "() returns trigger language plpgsql as $$ begin"
                    + " if new.deployment = '" + deployment + "' then raise exception 'refused for the test';"
                    + " end if; return new; end $$");
            st.execute("create trigger " + name + " before insert on failure_inbox for each row execute function "
                    + name + "()");
        }
        return () -> {
            try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
                st.execute("drop trigger if exists " + name + " on failure_inbox");
                st.execute("drop function if exists " + name + "()");
            }
        };
    }
}
