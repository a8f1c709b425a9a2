# Included by _ring.pyx before SeriesBuffer: the field column kinds (codes, numpy
# dtypes) and the check that a Python value can be stored in a field of a kind.


# Column kinds, as stored in ``SeriesBuffer.kinds``.
cdef enum:
    K_F8 = 0
    K_I8 = 1
    K_U8 = 2
    K_B1 = 3
    K_OBJ = 4


KIND_CODES = {"float64": K_F8, "int64": K_I8, "uint64": K_U8, "bool": K_B1,
              "string": K_OBJ}
_DTYPES = {K_F8: np.float64, K_I8: np.int64, K_U8: np.uint64, K_B1: np.uint8,
           K_OBJ: object}


cdef int _check_value(int kind, object v) except -1:
    """Raise SchemaError (a ValueError) unless ``v`` can be stored in a field of
    kind ``kind``."""
    if kind == K_F8:
        if type(v) is float:
            return 0
        if isinstance(v, (bool, np.bool_)) or not isinstance(
                v, (float, int, np.floating, np.integer)):
            raise SchemaError(f"value {v!r} is not a number for a float64 field")
    elif kind == K_I8 or kind == K_U8:
        name = "int64" if kind == K_I8 else "uint64"
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise SchemaError(f"value {v!r} is not an integer for a {name} field")
        lo, hi = (-(2 ** 63), 2 ** 63 - 1) if kind == K_I8 else (0, 2 ** 64 - 1)
        if not lo <= v <= hi:
            raise SchemaError(f"value {v!r} is outside the {name} range [{lo}, {hi}]")
    elif kind == K_B1:
        if not isinstance(v, (bool, np.bool_)):
            raise SchemaError(f"value {v!r} is not a bool")
    elif not isinstance(v, str):
        raise SchemaError(f"value {v!r} is not a string")
    return 0
