package io.faultline.call;

/** The database refused or lost a write; the client should retry (503), nothing was acknowledged. */
public class StorageException extends RuntimeException {

    public StorageException(String message, Throwable cause) {
        super(message, cause);
    }
}
