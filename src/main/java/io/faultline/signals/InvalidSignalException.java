package io.faultline.signals;

/** A signal that breaks its contract; {@link #field()} names the offending field. */
public class InvalidSignalException extends RuntimeException {

    private final String field;

    public InvalidSignalException(String field, String message) {
        super(message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
