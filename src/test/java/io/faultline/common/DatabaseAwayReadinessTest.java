package io.faultline.common;

import io.agroal.api.AgroalDataSource;
import io.agroal.api.configuration.supplier.AgroalDataSourceConfigurationSupplier;
import io.agroal.api.security.NamePrincipal;
import io.agroal.api.security.SimplePassword;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Proxy;
import java.net.ServerSocket;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Readiness is open to anyone who reaches the port; while the database refuses connections it says so, but not the
 * driver's message, which names the database's host, port and login.
 */
class DatabaseAwayReadinessTest {

    @Test
    void readiness_without_a_database_names_neither_its_host_nor_its_user() throws Exception {
        int closed;
        try (ServerSocket socket = new ServerSocket(0)) {
            closed = socket.getLocalPort(); // free once closed: the connection is refused
        }
        String url = "jdbc:postgresql://127.0.0.1:" + closed + "/faultline_private_db";
        try (AgroalDataSource dataSource = AgroalDataSource.from(new AgroalDataSourceConfigurationSupplier()
                .connectionPoolConfiguration(pool -> pool.maxSize(1).acquisitionTimeout(Duration.ofSeconds(10))
                        .connectionFactoryConfiguration(factory -> factory.jdbcUrl(url)
                                .principal(new NamePrincipal("svc_faultline_admin"))
                                .credential(new SimplePassword("not-used")))))) {
            // A proxy, not a class implementing the mapping: Quarkus's build would take that class for a bean whose
            // methods carry the mapping's constraints, and fail every @QuarkusTest of the run.
            DatabaseConfig config = (DatabaseConfig) Proxy.newProxyInstance(DatabaseConfig.class.getClassLoader(),
                    new Class<?>[] {DatabaseConfig.class},
                    (proxy, method, args) -> "retryEvery".equals(method.getName()) ? Duration.ofHours(1) : 5);
            DatabaseStartup startup = new DatabaseStartup(dataSource, null, null, config, null);
            startup.onStart(null);
            try {
                HealthCheckResponse ready = new DatabaseSchemaHealth(startup).call();
                assertThat(ready.getStatus()).isEqualTo(HealthCheckResponse.Status.DOWN);
                String said = String.valueOf(ready.getData().orElseThrow().get("waitingFor"));
                assertThat(said).startsWith("database not reachable").contains("SQLState 08001")
                        .doesNotContain("127.0.0.1").doesNotContain(Integer.toString(closed))
                        .doesNotContain("svc_faultline_admin").doesNotContain("faultline_private_db");
            } finally {
                startup.onStop(null);
            }
        }
    }
}
