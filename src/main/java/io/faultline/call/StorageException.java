package io.faultline.call;

/** The database refused or lost a write; the client should retry (503), nothing was acknowledged. */
public class StorageException extends RuntimeException {

    private final String detail;

    public StorageException(String message, Throwable cause) {
        this(message, cause, null);
    }

    /** With the {@code detail} the client is answered, for a request that is not a batch to store. */
    public StorageException(String message, Throwable cause, String detail) {
        super(message, cause);
        this.detail = detail;
    }

    /** What the client is told, or null for the answer to a batch that was not stored. */
    public String detail() {
        return detail;
    }
}
