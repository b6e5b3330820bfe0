package io.faultline.testing;

import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A test application runs on the database {@link PostgresResource} recreated for it, not on one another resource
 * keeps for the whole JVM: a resource without {@code restrictToAnnotatedClass} applies to every test class, and one
 * database kept across application restarts hands each application the rows of the ones before it.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class PostgresResourceTest {

    @Inject
    AgroalDataSource dataSource;

    @Test
    void the_application_runs_on_the_database_postgres_resource_recreated_for_it() throws Exception {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select current_database()")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("faultline_test");
        }
    }
}
