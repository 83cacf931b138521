/* The compiled per-post core (issue 19): the parts of a check that run for every post, in C.
 *
 * Automaton(buffer) reads the flat automaton that policy/compiler/automaton.py builds (its
 * docstring gives the layout), checks it once, and keeps the buffer; .scan(data) then finds every
 * key in a bytes-like object: (index of the key's last byte, key number), by end, longest first.
 * The pure-Python FlatAutomaton there is the reference this must agree with, and the engine runs
 * without this module (POLICY_PURE_PYTHON=1, or no C compiler at install time).
 *
 * Nothing here trusts the buffer: it may come from a cache file.  Every array index is checked
 * at construction, and because states are numbered breadth first, failure and output links always
 * go to a lower state, so following them ends.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    Py_buffer view;
    int has_view;
    int32_t states, edges;
    const int32_t *root, *first, *labels, *targets, *fail, *key, *output;
} Automaton;

static int32_t read_i32(const unsigned char *p) {
    return (int32_t)((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24));
}

static int is_little_endian(void) {
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

static int bad(const char *what) {
    PyErr_Format(PyExc_ValueError, "not a valid flat automaton: %s", what);
    return -1;
}

/* Check every index the scan will follow; on success the arrays point into the buffer. */
static int validate(Automaton *self) {
    const unsigned char *data = (const unsigned char *)self->view.buf;
    Py_ssize_t size = self->view.len;
    if (size < 12 || memcmp(data, "PAC1", 4) != 0)
        return bad("no PAC1 header");
    int64_t states = read_i32(data + 4), edges = read_i32(data + 8);
    if (states < 1 || edges < 0 || edges != states - 1)  /* a trie: one edge into every state but the root */
        return bad("impossible state or edge count");
    int64_t words = 256 + (states + 1) + 2 * edges + 3 * states;
    if (size != 12 + 4 * words)
        return bad("wrong size for its counts");
    if (((uintptr_t)(data + 12)) % sizeof(int32_t) != 0)
        return bad("arrays not aligned");  /* bytes objects are aligned; a slice of one may not be */
    const int32_t *p = (const int32_t *)(data + 12);
    self->root = p; p += 256;
    self->first = p; p += states + 1;
    self->labels = p; p += edges;
    self->targets = p; p += edges;
    self->fail = p; p += states;
    self->key = p; p += states;
    self->output = p;
    self->states = (int32_t)states;
    self->edges = (int32_t)edges;
    for (int b = 0; b < 256; b++)
        if (self->root[b] < 0 || self->root[b] >= states) return bad("root edge out of range");
    if (self->first[0] != 0 || self->first[states] != edges) return bad("edge offsets do not cover the edges");
    for (int64_t s = 0; s < states; s++) {
        if (self->first[s + 1] < self->first[s]) return bad("edge offsets go back");
        for (int32_t e = self->first[s]; e < self->first[s + 1]; e++) {
            if (self->labels[e] < 0 || self->labels[e] > 255) return bad("edge label not a byte");
            if (e > self->first[s] && self->labels[e] <= self->labels[e - 1]) return bad("edges not sorted");
            if (self->targets[e] <= 0 || self->targets[e] >= states) return bad("edge target out of range");
        }
        if (s == 0 ? self->fail[s] != 0 : (self->fail[s] < 0 || self->fail[s] >= s))
            return bad("failure link does not go to a lower state");
        if (self->output[s] != -1 && (self->output[s] <= 0 || self->output[s] >= s || self->key[self->output[s]] < 0))
            return bad("output link does not go to a lower state that spells a key");
        if (self->key[s] < -1) return bad("key number below -1");
    }
    return 0;
}

static int Automaton_init(Automaton *self, PyObject *args, PyObject *kwds) {
    static char *names[] = {"buffer", NULL};
    PyObject *buffer;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:Automaton", names, &buffer))
        return -1;
    if (self->has_view) {
        PyBuffer_Release(&self->view);
        self->has_view = 0;
    }
    if (!is_little_endian()) {
        PyErr_SetString(PyExc_RuntimeError, "the compiled core reads little-endian automata only");
        return -1;
    }
    if (PyObject_GetBuffer(buffer, &self->view, PyBUF_SIMPLE) < 0)
        return -1;
    self->has_view = 1;
    if (validate(self) < 0) {
        PyBuffer_Release(&self->view);
        self->has_view = 0;
        return -1;
    }
    return 0;
}

static void Automaton_dealloc(Automaton *self) {
    if (self->has_view)
        PyBuffer_Release(&self->view);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* The state after byte b from state s by a trie edge, or -1 (edges sorted by byte). */
static inline int32_t go(const Automaton *a, int32_t s, int32_t b) {
    int32_t lo = a->first[s], end = a->first[s + 1], hi = end;
    while (hi - lo > 8) {  /* narrow to the first label >= b, then look from there */
        int32_t mid = lo + (hi - lo) / 2;
        if (a->labels[mid] < b) lo = mid + 1; else hi = mid;
    }
    for (; lo < end; lo++) {
        if (a->labels[lo] == b) return a->targets[lo];
        if (a->labels[lo] > b) break;
    }
    return -1;
}

static int append_hit(PyObject *found, Py_ssize_t end, int32_t key) {
    PyObject *hit = Py_BuildValue("(ni)", end, (int)key);
    if (hit == NULL) return -1;
    int failed = PyList_Append(found, hit);
    Py_DECREF(hit);
    return failed;
}

static PyObject *Automaton_scan(Automaton *self, PyObject *arg) {
    if (!self->has_view) {
        PyErr_SetString(PyExc_ValueError, "the automaton was never given a buffer");
        return NULL;
    }
    Py_buffer text;
    if (PyObject_GetBuffer(arg, &text, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *found = PyList_New(0);
    if (found == NULL) {
        PyBuffer_Release(&text);
        return NULL;
    }
    const unsigned char *bytes = (const unsigned char *)text.buf;
    int32_t state = 0;
    for (Py_ssize_t i = 0; i < text.len; i++) {
        int32_t b = bytes[i];
        for (;;) {
            if (state == 0) { state = self->root[b]; break; }
            int32_t next = go(self, state, b);
            if (next >= 0) { state = next; break; }
            state = self->fail[state];
        }
        for (int32_t hit = self->key[state] >= 0 ? state : self->output[state]; hit > 0; hit = self->output[hit]) {
            if (append_hit(found, i, self->key[hit]) < 0) {
                Py_DECREF(found);
                PyBuffer_Release(&text);
                return NULL;
            }
        }
    }
    PyBuffer_Release(&text);
    return found;
}

static PyObject *Automaton_get_states(Automaton *self, void *closure) {
    (void)closure;
    return PyLong_FromLong(self->has_view ? self->states : 0);
}

static PyMethodDef Automaton_methods[] = {
    {"scan", (PyCFunction)Automaton_scan, METH_O,
     "scan(data) -> [(end index, key number)] of every key in a bytes-like object"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Automaton_getset[] = {
    {"states", (getter)Automaton_get_states, NULL, "the number of states", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject AutomatonType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "policy._core.Automaton",
    .tp_basicsize = sizeof(Automaton),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A flat automaton (policy.compiler.automaton), checked once, scanned in C.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Automaton_init,
    .tp_dealloc = (destructor)Automaton_dealloc,
    .tp_methods = Automaton_methods,
    .tp_getset = Automaton_getset,
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT, "policy._core", "The compiled per-post core (see policy/runtime/core.py).", -1, NULL,
};

PyMODINIT_FUNC PyInit__core(void) {
    if (PyType_Ready(&AutomatonType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&core_module);
    if (module == NULL)
        return NULL;
    Py_INCREF(&AutomatonType);
    if (PyModule_AddObject(module, "Automaton", (PyObject *)&AutomatonType) < 0) {
        Py_DECREF(&AutomatonType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
