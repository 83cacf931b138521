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

/* The hits of one scan: (end byte, key number) int32 pairs, on the stack while few. */
typedef struct {
    int32_t *pairs;
    Py_ssize_t len, cap;
    int32_t small[256];
} Hits;

static int Hits_add(Hits *h, Py_ssize_t end, int32_t key) {
    if (end > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "text too long for the compiled core");
        return -1;
    }
    if (h->len + 2 > h->cap) {
        Py_ssize_t cap = h->cap * 2;
        int32_t *grown = h->pairs == h->small ? PyMem_Malloc(sizeof(int32_t) * cap)
                                              : PyMem_Realloc(h->pairs, sizeof(int32_t) * cap);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        if (h->pairs == h->small) memcpy(grown, h->small, sizeof(int32_t) * h->len);
        h->pairs = grown;
        h->cap = cap;
    }
    h->pairs[h->len++] = (int32_t)end;
    h->pairs[h->len++] = key;
    return 0;
}

static int scan_into(const Automaton *a, const unsigned char *bytes, Py_ssize_t len, Hits *hits) {
    int32_t state = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        int32_t b = bytes[i];
        for (;;) {
            if (state == 0) { state = a->root[b]; break; }
            int32_t next = go(a, state, b);
            if (next >= 0) { state = next; break; }
            state = a->fail[state];
        }
        for (int32_t hit = a->key[state] >= 0 ? state : a->output[state]; hit > 0; hit = a->output[hit])
            if (Hits_add(hits, i, a->key[hit]) < 0) return -1;
    }
    return 0;
}

static PyObject *Automaton_scan(Automaton *self, PyObject *arg) {
    if (!self->has_view) {
        PyErr_SetString(PyExc_ValueError, "the automaton was never given a buffer");
        return NULL;
    }
    Py_buffer text;
    if (PyObject_GetBuffer(arg, &text, PyBUF_SIMPLE) < 0)
        return NULL;
    Hits hits = {.len = 0, .cap = 256};
    hits.pairs = hits.small;
    PyObject *found = NULL;
    if (scan_into(self, (const unsigned char *)text.buf, text.len, &hits) == 0
        && (found = PyList_New(hits.len / 2)) != NULL) {
        for (Py_ssize_t i = 0; i < hits.len; i += 2) {
            PyObject *hit = Py_BuildValue("(ii)", (int)hits.pairs[i], (int)hits.pairs[i + 1]);
            if (hit == NULL) {
                Py_CLEAR(found);
                break;
            }
            PyList_SET_ITEM(found, i / 2, hit);
        }
    }
    if (hits.pairs != hits.small) PyMem_Free(hits.pairs);
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

/* ---- Normalizer: a profile's translate table, walked in C ----------------------------------
 *
 * Normalizer(low, pool, high, repeats) is policy.text.normalize.Table in flat form (built by
 * policy/runtime/core.py): low is 0x20000 uint32 entries, one per code point of the BMP and plane 1;
 * high is sorted (code point, entry) uint32 pairs for the higher code points that change; pool holds
 * the code points of expansions.  An entry is a code point (the character becomes it), DELETED, or
 * EXPANDS | offset << 4 | length (the characters pool[offset:offset + length]).  With repeats, a run
 * of three or more of one character that is not a decimal digit becomes one (normalize's _RUN).
 */
#define LOW_SIZE 0x20000
#define DELETED 0xFFFFFFFFu
#define EXPANDS 0x80000000u

typedef struct {
    PyObject_HEAD
    Py_buffer low, pool, high;
    int views;  /* how many of the three buffers are held */
    Py_ssize_t pool_len, high_len;
    int repeats;
    Py_ssize_t widest;  /* the most characters one character becomes */
} Normalizer;

static void Normalizer_release(Normalizer *self) {
    if (self->views > 0) PyBuffer_Release(&self->low);
    if (self->views > 1) PyBuffer_Release(&self->pool);
    if (self->views > 2) PyBuffer_Release(&self->high);
    self->views = 0;
}

static int bad_table(const char *what) {
    PyErr_Format(PyExc_ValueError, "not a valid normalization table: %s", what);
    return -1;
}

static int check_entry(uint32_t entry, Py_ssize_t pool_len, Py_ssize_t *widest) {
    if (entry == DELETED) return 0;
    if (entry & EXPANDS) {
        Py_ssize_t offset = (entry & ~EXPANDS) >> 4, length = entry & 15;
        if (length < 2 || offset + length > pool_len) return bad_table("expansion outside the pool");
        if (length > *widest) *widest = length;
        return 0;
    }
    return entry < 0x110000 ? 0 : bad_table("entry is not a code point");
}

static int Normalizer_init(Normalizer *self, PyObject *args, PyObject *kwds) {
    static char *names[] = {"low", "pool", "high", "repeats", NULL};
    PyObject *low, *pool, *high;
    int repeats;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOp:Normalizer", names, &low, &pool, &high, &repeats))
        return -1;
    Normalizer_release(self);
    if (PyObject_GetBuffer(low, &self->low, PyBUF_SIMPLE) < 0) return -1;
    self->views = 1;
    if (PyObject_GetBuffer(pool, &self->pool, PyBUF_SIMPLE) < 0) goto fail;
    self->views = 2;
    if (PyObject_GetBuffer(high, &self->high, PyBUF_SIMPLE) < 0) goto fail;
    self->views = 3;
    if (self->low.len != LOW_SIZE * 4 || self->pool.len % 4 || self->high.len % 8) {
        bad_table("wrong buffer sizes");
        goto fail;
    }
    if ((uintptr_t)self->low.buf % 4 || (self->pool.len && (uintptr_t)self->pool.buf % 4)
        || (self->high.len && (uintptr_t)self->high.buf % 4)) {
        bad_table("buffers not aligned");
        goto fail;
    }
    self->pool_len = self->pool.len / 4;
    self->high_len = self->high.len / 8;
    self->repeats = repeats;
    self->widest = 1;
    const uint32_t *entries = (const uint32_t *)self->low.buf;
    for (Py_ssize_t i = 0; i < LOW_SIZE; i++)
        if (check_entry(entries[i], self->pool_len, &self->widest) < 0) goto fail;
    const uint32_t *pairs = (const uint32_t *)self->high.buf;
    for (Py_ssize_t i = 0; i < self->high_len; i++) {
        if (pairs[2 * i] < LOW_SIZE || pairs[2 * i] >= 0x110000 || (i > 0 && pairs[2 * i] <= pairs[2 * i - 2])) {
            bad_table("high code points not sorted above the low table");
            goto fail;
        }
        if (check_entry(pairs[2 * i + 1], self->pool_len, &self->widest) < 0) goto fail;
    }
    const uint32_t *codes = (const uint32_t *)self->pool.buf;
    for (Py_ssize_t i = 0; i < self->pool_len; i++)
        if (codes[i] >= 0x110000) {
            bad_table("pool holds a value that is not a code point");
            goto fail;
        }
    return 0;
fail:
    Normalizer_release(self);
    return -1;
}

static void Normalizer_dealloc(Normalizer *self) {
    Normalizer_release(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static uint32_t entry_of(const Normalizer *self, Py_UCS4 ch) {
    if (ch < LOW_SIZE) return ((const uint32_t *)self->low.buf)[ch];
    const uint32_t *pairs = (const uint32_t *)self->high.buf;
    Py_ssize_t lo = 0, hi = self->high_len;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (pairs[2 * mid] < ch) lo = mid + 1; else hi = mid;
    }
    return lo < self->high_len && pairs[2 * lo] == ch ? pairs[2 * lo + 1] : ch;
}

/* A growable array of code points, on the stack for short texts. */
typedef struct {
    Py_UCS4 *chars;
    Py_ssize_t len;
    Py_UCS4 small[512];
} Chars;

static void Chars_free(Chars *c) {
    if (c->chars != c->small) PyMem_Free(c->chars);
}

/* The normalized text of ``text`` into out (free it with Chars_free, also on failure). */
static int normalize_into(const Normalizer *self, PyObject *text, Chars *out) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    out->chars = out->small;
    out->len = 0;
    if (n > (PY_SSIZE_T_MAX / 4) / self->widest) {
        PyErr_NoMemory();
        return -1;
    }
    if (n * self->widest > (Py_ssize_t)(sizeof(out->small) / sizeof(Py_UCS4))) {
        out->chars = PyMem_Malloc(sizeof(Py_UCS4) * n * self->widest);
        if (out->chars == NULL) {
            out->chars = out->small;
            PyErr_NoMemory();
            return -1;
        }
    }
    const uint32_t *pool = (const uint32_t *)self->pool.buf;
    Py_UCS4 *w = out->chars;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t entry = entry_of(self, PyUnicode_READ(kind, data, i));
        if (entry == DELETED) continue;
        if (entry & EXPANDS) {
            const uint32_t *from = pool + ((entry & ~EXPANDS) >> 4);
            for (uint32_t k = 0; k < (entry & 15); k++) *w++ = from[k];
        } else {
            *w++ = entry;
        }
    }
    out->len = w - out->chars;
    if (self->repeats && out->len >= 3) {  /* fold runs of three or more, in place */
        Py_UCS4 *c = out->chars;
        Py_ssize_t r = 0, kept = 0, len = out->len;
        while (r < len) {
            Py_ssize_t j = r + 1;
            while (j < len && c[j] == c[r]) j++;
            if (j - r >= 3 && !Py_UNICODE_ISDECIMAL(c[r])) {
                c[kept++] = c[r];
            } else {
                for (Py_ssize_t k = r; k < j; k++) c[kept++] = c[k];
            }
            r = j;
        }
        out->len = kept;
    }
    return 0;
}

/* UTF-8 as Python's "surrogatepass" spells it (a lone surrogate as its three bytes). */
static Py_ssize_t encode_utf8(const Py_UCS4 *chars, Py_ssize_t n, unsigned char *out) {
    unsigned char *w = out;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = chars[i];
        if (c < 0x80) {
            *w++ = (unsigned char)c;
        } else if (c < 0x800) {
            *w++ = (unsigned char)(0xC0 | (c >> 6));
            *w++ = (unsigned char)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            *w++ = (unsigned char)(0xE0 | (c >> 12));
            *w++ = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
            *w++ = (unsigned char)(0x80 | (c & 0x3F));
        } else {
            *w++ = (unsigned char)(0xF0 | (c >> 18));
            *w++ = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
            *w++ = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
            *w++ = (unsigned char)(0x80 | (c & 0x3F));
        }
    }
    return w - out;
}

static PyObject *Normalizer_normalize(Normalizer *self, PyObject *text) {
    if (self->views != 3) {
        PyErr_SetString(PyExc_ValueError, "the normalizer was never given its tables");
        return NULL;
    }
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "normalize() takes a str");
        return NULL;
    }
    Chars out;
    if (normalize_into(self, text, &out) < 0) {
        Chars_free(&out);
        return NULL;
    }
    PyObject *result = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out.chars, out.len);
    Chars_free(&out);
    return result;
}

/* The distinct key numbers of the hits, as a set. */
static PyObject *keys_of(const Hits *hits) {
    PyObject *keys = PySet_New(NULL);
    if (keys == NULL) return NULL;
    for (Py_ssize_t i = 1; i < hits->len; i += 2) {
        PyObject *key = PyLong_FromLong(hits->pairs[i]);
        if (key == NULL || PySet_Add(keys, key) < 0) {
            Py_XDECREF(key);
            Py_DECREF(keys);
            return NULL;
        }
        Py_DECREF(key);
    }
    return keys;
}

/* normalize, encode and scan in one call: None when nothing is found (the clean text's answer,
 * with no object made), else (the normalized text as UTF-8, the hits as little-endian int32
 * (end byte, key number) pairs, the set of distinct key numbers).  The pairs stay packed: only a
 * post whose rules read its hits unpacks them. */
static PyObject *Normalizer_scan(Normalizer *self, PyObject *args) {
    PyObject *automaton, *text;
    if (!PyArg_ParseTuple(args, "O!U:scan", &AutomatonType, &automaton, &text))
        return NULL;
    const Automaton *a = (const Automaton *)automaton;
    if (self->views != 3 || !a->has_view) {
        PyErr_SetString(PyExc_ValueError, "the normalizer or the automaton was never given its tables");
        return NULL;
    }
    Chars chars;
    if (normalize_into(self, text, &chars) < 0) {
        Chars_free(&chars);
        return NULL;
    }
    unsigned char small[2048];
    unsigned char *bytes = small;
    if (chars.len > (Py_ssize_t)sizeof(small) / 4) {
        bytes = PyMem_Malloc(4 * (size_t)chars.len);
        if (bytes == NULL) {
            Chars_free(&chars);
            return PyErr_NoMemory();
        }
    }
    Py_ssize_t len = encode_utf8(chars.chars, chars.len, bytes);
    Chars_free(&chars);
    Hits hits = {.len = 0, .cap = 256};
    hits.pairs = hits.small;
    PyObject *result = NULL;
    if (scan_into(a, bytes, len, &hits) == 0) {
        if (hits.len == 0) {
            result = Py_None;
            Py_INCREF(result);
        } else {
            PyObject *keys = keys_of(&hits);
            if (keys != NULL)
                result = Py_BuildValue("(y#y#N)", (const char *)bytes, len, (const char *)hits.pairs,
                                       (Py_ssize_t)(hits.len * sizeof(int32_t)), keys);
        }
    }
    if (hits.pairs != hits.small) PyMem_Free(hits.pairs);
    if (bytes != small) PyMem_Free(bytes);
    return result;
}

static PyMethodDef Normalizer_methods[] = {
    {"normalize", (PyCFunction)Normalizer_normalize, METH_O, "normalize(text) -> the normalized text"},
    {"scan", (PyCFunction)Normalizer_scan, METH_VARARGS,
     "scan(automaton, text) -> None, or (normalized text as UTF-8, packed int32 (end byte, key) pairs, {key})"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject NormalizerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "policy._core.Normalizer",
    .tp_basicsize = sizeof(Normalizer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A normalization table (policy.text.normalize.Table) in flat form, walked in C.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Normalizer_init,
    .tp_dealloc = (destructor)Normalizer_dealloc,
    .tp_methods = Normalizer_methods,
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT, "policy._core", "The compiled per-post core (see policy/runtime/core.py).", -1, NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__core(void) {
    if (PyType_Ready(&AutomatonType) < 0 || PyType_Ready(&NormalizerType) < 0)
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
    Py_INCREF(&NormalizerType);
    if (PyModule_AddObject(module, "Normalizer", (PyObject *)&NormalizerType) < 0) {
        Py_DECREF(&NormalizerType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
