/* Lower bounds for dict_bench.py --floor (measurement only, not a detector): the cost of
   reaching the rule's five fields (event.category, event.type, process.name,
   process.command_line, process.parent.name) in an ECS dict, either by visiting every key
   of the four maps on the way (walk*, which an exact reader must do at least) or by hash
   lookups (lookup*, which is not exact: dotted keys are missed). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *K_EVENT, *K_PROCESS, *K_CATEGORY, *K_TYPE, *K_NAME, *K_CMD, *K_PARENT;

/* Visits every key of the map (as an exact walk must), pointer-compares with the wanted
   keys, type-checks the wanted values. No cache, no dot/blank check: less than exactness needs. */
static long walk_map(PyObject *d, int level) {
    Py_ssize_t pos = 0; PyObject *k, *v; long n = 0;
    while (PyDict_Next(d, &pos, &k, &v)) {
        if (level == 0) {
            if (k == K_EVENT) n += walk_map(v, 1);
            else if (k == K_PROCESS) n += walk_map(v, 2);
        } else if (level == 1) {
            if (k == K_CATEGORY || k == K_TYPE) n += PyUnicode_Check(v) ? PyUnicode_GET_LENGTH(v) : 1;
        } else if (level == 2) {
            if (k == K_NAME || k == K_CMD) n += PyUnicode_Check(v) ? PyUnicode_GET_LENGTH(v) : 1;
            else if (k == K_PARENT) n += walk_map(v, 3);
        } else if (k == K_NAME) n += PyUnicode_Check(v) ? PyUnicode_GET_LENGTH(v) : 1;
    }
    return n;
}

static long lookup_one(PyObject *d) {
    long n = 0; PyObject *e = PyDict_GetItem(d, K_EVENT), *p = PyDict_GetItem(d, K_PROCESS), *v;
    if (e) { if ((v = PyDict_GetItem(e, K_CATEGORY)) && PyUnicode_Check(v)) n += PyUnicode_GET_LENGTH(v);
             if ((v = PyDict_GetItem(e, K_TYPE)) && PyUnicode_Check(v)) n += PyUnicode_GET_LENGTH(v); }
    if (p) { if ((v = PyDict_GetItem(p, K_NAME)) && PyUnicode_Check(v)) n += PyUnicode_GET_LENGTH(v);
             if ((v = PyDict_GetItem(p, K_CMD)) && PyUnicode_Check(v)) n += PyUnicode_GET_LENGTH(v);
             PyObject *q = PyDict_GetItem(p, K_PARENT);
             if (q && (v = PyDict_GetItem(q, K_NAME)) && PyUnicode_Check(v)) n += PyUnicode_GET_LENGTH(v); }
    return n;
}

static PyObject *walk1(PyObject *self, PyObject *d) { return PyLong_FromLong(walk_map(d, 0)); }
static PyObject *lookup1(PyObject *self, PyObject *d) { return PyLong_FromLong(lookup_one(d)); }
static PyObject *walk_many(PyObject *self, PyObject *l) {
    long n = 0; for (Py_ssize_t i = 0; i < PyList_GET_SIZE(l); i++) n += walk_map(PyList_GET_ITEM(l, i), 0);
    return PyLong_FromLong(n);
}
static PyObject *lookup_many(PyObject *self, PyObject *l) {
    long n = 0; for (Py_ssize_t i = 0; i < PyList_GET_SIZE(l); i++) n += lookup_one(PyList_GET_ITEM(l, i));
    return PyLong_FromLong(n);
}
static PyMethodDef M[] = {{"walk1", walk1, METH_O}, {"lookup1", lookup1, METH_O},
    {"walk_many", walk_many, METH_O}, {"lookup_many", lookup_many, METH_O}, {0}};
static struct PyModuleDef D = {PyModuleDef_HEAD_INIT, "dict_floor", 0, -1, M};
PyMODINIT_FUNC PyInit_dict_floor(void) {
#define I(v, s) v = PyUnicode_InternFromString(s)
    I(K_EVENT, "event"); I(K_PROCESS, "process"); I(K_CATEGORY, "category"); I(K_TYPE, "type");
    I(K_NAME, "name"); I(K_CMD, "command_line"); I(K_PARENT, "parent");
    return PyModule_Create(&D);
}
