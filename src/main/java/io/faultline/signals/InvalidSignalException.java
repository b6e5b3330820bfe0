package io.faultline.signals;

/**
 * A signal that breaks its contract; {@link #field()} names the offending field, {@link #code()} says what a sender may
 * do about it ({@link SignalResource.Rejected}).
 */
public class InvalidSignalException extends RuntimeException {

    private final String field;
    private final String code;

    public InvalidSignalException(String field, String message) {
        this(field, message, SignalResource.Rejected.INVALID);
    }

    public InvalidSignalException(String field, String message, String code) {
        super(message);
        this.field = field;
        this.code = code;
    }

    public String field() {
        return field;
    }

    public String code() {
        return code;
    }
}
