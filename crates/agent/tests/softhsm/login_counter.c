/* A PKCS#11 module for the agent's tests that stands in front of a real one (SoftHSM2): every
 * call goes straight through, and each C_Login is first counted in the file $LOGIN_COUNT_FILE.
 * SoftHSM2 never locks a token after wrong PINs, so only a count shows how many tries of a
 * holder's PIN the agent spent. The real module is $REAL_PKCS11_MODULE. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST wrapped;
static CK_FUNCTION_LIST_PTR real;

static CK_RV counted_login(CK_SESSION_HANDLE session, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
                           CK_ULONG len) {
    const char *path = getenv("LOGIN_COUNT_FILE");
    FILE *f = path ? fopen(path, "a") : NULL;
    if (!f) return CKR_GENERAL_ERROR;
    fputs("C_Login\n", f);
    fclose(f);
    return real->C_Login(session, user, pin, len);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
    if (!real) {
        const char *module = getenv("REAL_PKCS11_MODULE");
        void *lib = module ? dlopen(module, RTLD_NOW | RTLD_LOCAL) : NULL;
        CK_C_GetFunctionList get = lib ? (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList") : NULL;
        if (!get || get(&real) != CKR_OK) return CKR_GENERAL_ERROR;
        wrapped = *real;
        wrapped.C_Login = counted_login;
        wrapped.C_GetFunctionList = C_GetFunctionList;
    }
    *list = &wrapped;
    return CKR_OK;
}
