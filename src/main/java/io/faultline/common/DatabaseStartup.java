package io.faultline.common;

import io.agroal.api.AgroalDataSource;
import io.quarkus.logging.Log;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.scheduler.Scheduler;
import jakarta.annotation.Priority;
import jakarta.enterprise.event.Event;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import org.flywaydb.core.Flyway;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Migrates the schema at start, or, when the database refuses connections then, keeps trying in the background while
 * Faultline serves its health checks: readiness ("database-schema") stays down and ingest answers 503 with
 * {@code Retry-After} until the schema is migrated and {@link DatabaseReady} observers have rebuilt their state. A
 * database that is reachable but whose migration fails still fails the start, as Quarkus's own migrate-at-start did
 * (which is off: it made the process exit when the database was away).
 */
@Singleton
public class DatabaseStartup {

    private final AgroalDataSource dataSource;
    private final Flyway flyway;
    private final Event<DatabaseReady> ready;
    private final DatabaseConfig config;
    private final Scheduler scheduler;
    private volatile boolean migrated;
    private volatile String waitingFor = "not started";
    private String lastLoggedCause;
    private ScheduledExecutorService retries;

    public DatabaseStartup(AgroalDataSource dataSource, Flyway flyway, Event<DatabaseReady> ready,
            DatabaseConfig config, Scheduler scheduler) {
        this.dataSource = dataSource;
        this.flyway = flyway;
        this.ready = ready;
        this.config = config;
        this.scheduler = scheduler;
    }

    void onStart(@Observes @Priority(1) StartupEvent start) {
        if (reachable()) {
            migrateAndAnnounce();
            return;
        }
        Log.warnf("Faultline starts not ready and tries to reach the database again every %s",
                config.retryEvery());
        retries = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "database-startup");
            t.setDaemon(true);
            return t;
        });
        long every = config.retryEvery().toMillis();
        retries.scheduleWithFixedDelay(this::retry, every, every, TimeUnit.MILLISECONDS);
    }

    void onStop(@Observes ShutdownEvent stop) {
        if (retries != null) {
            retries.shutdownNow();
        }
    }

    private void retry() {
        if (migrated || !reachable()) {
            return;
        }
        try {
            migrateAndAnnounce();
            Log.info("The database is reachable: schema migrated, Faultline is ready");
            retries.shutdown();
        } catch (RuntimeException e) {
            // Reachable a moment ago, gone again (or a migration that cannot run): logged, tried again.
            waitingFor = "migration failed; the cause is in the service's log";
            Log.errorf(e, "Migrating the schema failed; trying again in %s", config.retryEvery());
        }
    }

    private void migrateAndAnnounce() {
        waitingFor = "migrating the schema and rebuilding the state held in memory";
        long start = System.nanoTime();
        int applied = flyway.migrate().migrationsExecuted;
        long migratedAt = System.nanoTime();
        ready.fire(new DatabaseReady());
        migrated = true;
        waitingFor = "";
        // Every scheduled job reads or writes the schema: the scheduler starts halted
        // (quarkus.scheduler.start-mode=halted) and fires its first job only now, not against tables that do not
        // exist yet, nor in competition with the migration and the rebuild for the CPU of a starting replica.
        scheduler.resume();
        // What start-up spends on the database, for `make startup` and for an operator reading the log.
        Log.infof("Schema checked in %d ms (%d migrations applied); state rebuilt from the database in %d ms",
                (migratedAt - start) / 1_000_000, applied, (System.nanoTime() - migratedAt) / 1_000_000);
    }

    private boolean reachable() {
        try (Connection c = dataSource.getConnection()) {
            return c.isValid(5);
        } catch (SQLException e) {
            waitingFor = unreachable(e);
            String cause = e.getMessage();
            if (cause == null || !cause.equals(lastLoggedCause)) {
                // Once per cause, not at every retry: the log says why, readiness only that it is so.
                Log.warnf("The database is not reachable: %s", LogText.of(cause));
                lastLoggedCause = cause;
            }
            return false;
        }
    }

    /**
     * What readiness says of a refused connection. The driver's message names the database's host, port and user
     * (and the login it refused), and {@code /q/health/ready} answers anyone who can reach the port: it carries the
     * SQLState only, and the service's log the message.
     */
    static String unreachable(SQLException e) {
        String state = e.getSQLState();
        return "database not reachable" + (state == null ? "" : " (SQLState " + state + ")")
                + "; the cause is in the service's log";
    }

    /** True once the schema is migrated and the state held in memory rebuilt from it. */
    public boolean migrated() {
        return migrated;
    }

    /** Why it is not migrated yet: the last connection or migration error; empty once migrated. */
    public String waitingFor() {
        return waitingFor;
    }
}
