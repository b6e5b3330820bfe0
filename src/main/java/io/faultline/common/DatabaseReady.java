package io.faultline.common;

/**
 * Fired once per process, after the schema is migrated: beans that rebuild what they hold in memory from the stored
 * data observe it instead of {@code StartupEvent}. With the database there at start it is fired during start-up, as
 * before; with the database away it is fired from the background thread that waited for it (README: "Failure
 * modes").
 */
public final class DatabaseReady {
}
