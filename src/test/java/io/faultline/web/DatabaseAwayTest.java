package io.faultline.web;

import io.faultline.call.StorageException;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.postgresql.util.PSQLException;
import org.postgresql.util.PSQLState;

import java.sql.SQLException;

import static org.assertj.core.api.Assertions.assertThat;

/** Which failures mean "the database is away, retry later" (503) and which stay the error they are. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class DatabaseAwayTest {

    @Test
    void connection_failures_shutdowns_and_pool_timeouts_are_the_database_being_away() {
        assertThat(ProblemMappers.databaseAway(new StorageException("could not store the batch",
                new PSQLException("Connection refused", PSQLState.CONNECTION_UNABLE_TO_CONNECT)))).isTrue();
        assertThat(ProblemMappers.databaseAway(new RuntimeException(new SQLException(
                "terminating connection due to administrator command", "57P01")))).isTrue();
        assertThat(ProblemMappers.databaseAway(new SQLException("the database system is starting up", "57P03")))
                .isTrue();
        assertThat(ProblemMappers.databaseAway(new SQLException("sorry, too many clients already", "53300")))
                .isTrue();
        assertThat(ProblemMappers.databaseAway(new SQLException(
                "Acquisition timeout while waiting for new connection"))).isTrue();
        // Agroal's words when every connection of the pool is in use (reads crowding it got 500s):
        assertThat(ProblemMappers.databaseAway(new RuntimeException("org.hibernate.exception.GenericJDBCException",
                new SQLException("Sorry, acquisition timeout!")))).isTrue();
        assertThat(ProblemMappers.databaseAway(new StorageException("the database is not ready yet", null))).isTrue();
    }

    @Test
    void data_errors_and_bugs_are_not() {
        assertThat(ProblemMappers.databaseAway(new StorageException("could not store the batch",
                new SQLException("duplicate key", "23505")))).isFalse();
        assertThat(ProblemMappers.databaseAway(new StorageException("could not store the batch",
                new SQLException("refused by a trigger", "P0001")))).isFalse();
        assertThat(ProblemMappers.databaseAway(new IllegalStateException("a bug"))).isFalse();
        assertThat(ProblemMappers.databaseAway(new SQLException("no state"))).isFalse();
    }

    @Test
    void only_a_refusal_for_what_the_batch_holds_is_final_everything_else_is_retried() {
        assertThat(ProblemMappers.refusedForWhatItHolds(new StorageException("could not store the batch",
                new SQLException("refused by a trigger", "P0001")))).isTrue();
        assertThat(ProblemMappers.refusedForWhatItHolds(new SQLException("value out of range", "22003"))).isTrue();
        assertThat(ProblemMappers.refusedForWhatItHolds(new SQLException("check constraint", "23514"))).isTrue();
        assertThat(ProblemMappers.refusedForWhatItHolds(new SQLException("deadlock detected", "40P01"))).isFalse();
        assertThat(ProblemMappers.refusedForWhatItHolds(new SQLException("statement timeout", "57014"))).isFalse();
        assertThat(ProblemMappers.refusedForWhatItHolds(new SQLException(
                "database is not currently accepting connections", "55000"))).isFalse();
        assertThat(ProblemMappers.refusedForWhatItHolds(new SQLException("no state"))).isFalse();
    }
}
