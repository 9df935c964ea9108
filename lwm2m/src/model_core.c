/* SPDX-License-Identifier: Apache-2.0 */
/* Built-in core objects, written from the OMA LwM2M registry definitions: Security (0) and
 * Server (1) at v1.1, Access Control (2), Device (3, v1.1), Connectivity Monitoring (4) and
 * LwM2M Gateway (25, v2.0). Static tables, sorted by id; nothing here is allocated. */
#include "model_builtin.h"

/* Security v1.1 (resources 0-17). No operations: only a Bootstrap-Server writes it. */
static const struct lwm2m_resource_def security_res[] = {
    RES(0, "LWM2M Server URI", NONE, SINGLE, MAND, STRING, LEN(0, 255), ""),
    RES(1, "Bootstrap-Server", NONE, SINGLE, MAND, BOOLEAN, NO_RANGE, ""),
    RES(2, "Security Mode", NONE, SINGLE, MAND, INTEGER, VAL(0, 4), ""),
    RES(3, "Public Key or Identity", NONE, SINGLE, MAND, OPAQUE, NO_RANGE, ""),
    RES(4, "Server Public Key", NONE, SINGLE, MAND, OPAQUE, NO_RANGE, ""),
    RES(5, "Secret Key", NONE, SINGLE, MAND, OPAQUE, NO_RANGE, ""),
    RES(6, "SMS Security Mode", NONE, SINGLE, OPT, INTEGER, VAL(0, 255), ""),
    RES(7, "SMS Binding Key Parameters", NONE, SINGLE, OPT, OPAQUE, LEN_EXACT(6), ""),
    RES(8, "SMS Binding Secret Key(s)", NONE, SINGLE, OPT, OPAQUE, TEXT("16,32,48"), ""),
    RES(9, "LwM2M Server SMS Number", NONE, SINGLE, OPT, STRING, NO_RANGE, ""),
    RES(10, "Short Server ID", NONE, SINGLE, OPT, INTEGER, VAL(1, 65534), ""),
    RES(11, "Client Hold Off Time", NONE, SINGLE, OPT, INTEGER, NO_RANGE, "s"),
    RES(12, "Bootstrap-Server Account Timeout", NONE, SINGLE, OPT, INTEGER, NO_RANGE, "s"),
    RES(13, "Matching Type", NONE, SINGLE, OPT, UNSIGNED, VAL(0, 3), ""),
    RES(14, "SNI", NONE, SINGLE, OPT, STRING, NO_RANGE, ""),
    RES(15, "Certificate Usage", NONE, SINGLE, OPT, UNSIGNED, VAL(0, 3), ""),
    RES(16, "DTLS/TLS Ciphersuite", NONE, MULTI, OPT, UNSIGNED, NO_RANGE, ""),
    RES(17, "OSCORE Security Mode", NONE, SINGLE, OPT, OBJLNK, NO_RANGE, ""),
};

/* Server v1.1 (resources 0-23). */
static const struct lwm2m_resource_def server_res[] = {
    RES(0, "Short Server ID", R, SINGLE, MAND, INTEGER, VAL(1, 65534), ""),
    RES(1, "Lifetime", RW, SINGLE, MAND, INTEGER, NO_RANGE, "s"),
    RES(2, "Default Minimum Period", RW, SINGLE, OPT, INTEGER, NO_RANGE, "s"),
    RES(3, "Default Maximum Period", RW, SINGLE, OPT, INTEGER, NO_RANGE, "s"),
    RES(4, "Disable", E, SINGLE, OPT, NONE, NO_RANGE, ""),
    RES(5, "Disable Timeout", RW, SINGLE, OPT, INTEGER, NO_RANGE, "s"),
    RES(6, "Notification Storing When Disabled or Offline", RW, SINGLE, MAND, BOOLEAN, NO_RANGE,
        ""),
    RES(7, "Binding", RW, SINGLE, MAND, STRING, NO_RANGE, ""),
    RES(8, "Registration Update Trigger", E, SINGLE, MAND, NONE, NO_RANGE, ""),
    RES(9, "Bootstrap-Request Trigger", E, SINGLE, OPT, NONE, NO_RANGE, ""),
    RES(10, "APN Link", RW, SINGLE, OPT, OBJLNK, NO_RANGE, ""),
    RES(11, "TLS-DTLS Alert Code", R, SINGLE, OPT, UNSIGNED, VAL(0, 255), ""),
    RES(12, "Last Bootstrapped", R, SINGLE, OPT, TIME, NO_RANGE, ""),
    RES(13, "Registration Priority Order", R, SINGLE, OPT, UNSIGNED, NO_RANGE, ""),
    RES(14, "Initial Registration Delay Timer", RW, SINGLE, OPT, UNSIGNED, NO_RANGE, "s"),
    RES(15, "Registration Failure Block", R, SINGLE, OPT, BOOLEAN, NO_RANGE, ""),
    RES(16, "Bootstrap on Registration Failure", R, SINGLE, OPT, BOOLEAN, NO_RANGE, ""),
    RES(17, "Communication Retry Count", RW, SINGLE, OPT, UNSIGNED, NO_RANGE, ""),
    RES(18, "Communication Retry Timer", RW, SINGLE, OPT, UNSIGNED, NO_RANGE, "s"),
    RES(19, "Communication Sequence Delay Timer", RW, SINGLE, OPT, UNSIGNED, NO_RANGE, "s"),
    RES(20, "Communication Sequence Retry Count", RW, SINGLE, OPT, UNSIGNED, NO_RANGE, ""),
    RES(21, "Trigger", RW, SINGLE, OPT, BOOLEAN, NO_RANGE, ""),
    RES(22, "Preferred Transport", RW, SINGLE, OPT, STRING,
        TEXT("The possible values are those listed in the LwM2M Core Specification"), ""),
    RES(23, "Mute Send", RW, SINGLE, OPT, BOOLEAN, NO_RANGE, ""),
};

/* Access Control v1.1. */
static const struct lwm2m_resource_def access_control_res[] = {
    RES(0, "Object ID", R, SINGLE, MAND, INTEGER, VAL(1, 65534), ""),
    RES(1, "Object Instance ID", R, SINGLE, MAND, INTEGER, VAL(0, 65535), ""),
    RES(2, "ACL", RW, MULTI, OPT, INTEGER, VAL(0, 31), ""),
    RES(3, "Access Control Owner", RW, SINGLE, MAND, INTEGER, VAL(0, 65535), ""),
};

/* Device v1.1 (resources 0-22; units as the registry's current file gives them). */
static const struct lwm2m_resource_def device_res[] = {
    RES(0, "Manufacturer", R, SINGLE, OPT, STRING, NO_RANGE, ""),
    RES(1, "Model Number", R, SINGLE, OPT, STRING, NO_RANGE, ""),
    RES(2, "Serial Number", R, SINGLE, OPT, STRING, NO_RANGE, ""),
    RES(3, "Firmware Version", R, SINGLE, OPT, STRING, NO_RANGE, ""),
    RES(4, "Reboot", E, SINGLE, MAND, NONE, NO_RANGE, ""),
    RES(5, "Factory Reset", E, SINGLE, OPT, NONE, NO_RANGE, ""),
    RES(6, "Available Power Sources", R, MULTI, OPT, INTEGER, VAL(0, 7), ""),
    RES(7, "Power Source Voltage", R, MULTI, OPT, INTEGER, NO_RANGE, ""),
    RES(8, "Power Source Current", R, MULTI, OPT, INTEGER, NO_RANGE, ""),
    RES(9, "Battery Level", R, SINGLE, OPT, INTEGER, VAL(0, 100), "/100"),
    RES(10, "Memory Free", R, SINGLE, OPT, INTEGER, NO_RANGE, ""),
    RES(11, "Error Code", R, MULTI, MAND, INTEGER, VAL(0, 32), ""),
    RES(12, "Reset Error Code", E, SINGLE, OPT, NONE, NO_RANGE, ""),
    RES(13, "Current Time", RW, SINGLE, OPT, TIME, NO_RANGE, ""),
    RES(14, "UTC Offset", RW, SINGLE, OPT, STRING, NO_RANGE, ""),
    RES(15, "Timezone", RW, SINGLE, OPT, STRING, NO_RANGE, ""),
    RES(16, "Supported Binding and Modes", R, SINGLE, MAND, STRING, NO_RANGE, ""),
    RES(17, "Device Type", R, SINGLE, OPT, STRING, NO_RANGE, ""),
    RES(18, "Hardware Version", R, SINGLE, OPT, STRING, NO_RANGE, ""),
    RES(19, "Software Version", R, SINGLE, OPT, STRING, NO_RANGE, ""),
    RES(20, "Battery Status", R, SINGLE, OPT, INTEGER, VAL(0, 6), ""),
    RES(21, "Memory Total", R, SINGLE, OPT, INTEGER, NO_RANGE, ""),
    RES(22, "ExtDevInfo", R, MULTI, OPT, OBJLNK, NO_RANGE, ""),
};

/* Connectivity Monitoring v1.3. */
static const struct lwm2m_resource_def connectivity_res[] = {
    RES(0, "Network Bearer", R, SINGLE, MAND, INTEGER, VAL(0, 50), ""),
    RES(1, "Available Network Bearer", R, MULTI, MAND, INTEGER, VAL(0, 50), ""),
    RES(2, "Radio Signal Strength", R, SINGLE, MAND, INTEGER, NO_RANGE, ""),
    RES(3, "Link Quality", R, SINGLE, OPT, INTEGER, NO_RANGE, ""),
    RES(4, "IP Addresses", R, MULTI, MAND, STRING, NO_RANGE, ""),
    RES(5, "Router IP Addresses", R, MULTI, OPT, STRING, NO_RANGE, ""),
    RES(6, "Link Utilization", R, SINGLE, OPT, INTEGER, VAL(0, 100), "/100"),
    RES(7, "APN", R, MULTI, OPT, STRING, NO_RANGE, ""),
    RES(8, "Cell ID", R, SINGLE, OPT, INTEGER, NO_RANGE, ""),
    RES(9, "SMNC", R, SINGLE, OPT, INTEGER, VAL(0, 999), ""),
    RES(10, "SMCC", R, SINGLE, OPT, INTEGER, VAL(0, 999), ""),
    RES(11, "SignalSNR", R, SINGLE, OPT, INTEGER, NO_RANGE, "dB"),
    RES(12, "LAC", R, SINGLE, OPT, INTEGER, NO_RANGE, ""),
    RES(13, "Coverage Enhancement Level", R, SINGLE, OPT, INTEGER, VAL(0, 4), ""),
};

/* LwM2M Gateway v2.0 (LwM2M 1.2 gateway mode: one instance per IoT device). */
static const struct lwm2m_resource_def gateway_res[] = {
    RES(0, "Device ID", R, SINGLE, MAND, STRING, NO_RANGE, ""),
    RES(1, "Prefix", R, SINGLE, MAND, STRING, NO_RANGE, ""),
    RES(3, "IoT Device Objects", R, SINGLE, MAND, CORELNK, NO_RANGE, ""),
};

static const struct lwm2m_object_def core_objects[] = {
    OBJ(0, "LWM2M Security", "1.1", MULTI, MAND, security_res),
    OBJ(1, "LwM2M Server", "1.1", MULTI, MAND, server_res),
    OBJ(2, "LwM2M Access Control", "1.1", MULTI, OPT, access_control_res),
    OBJ(3, "Device", "1.1", SINGLE, MAND, device_res),
    OBJ(4, "Connectivity Monitoring", "1.3", SINGLE, OPT, connectivity_res),
    OBJ(25, "LwM2M Gateway", "2.0", MULTI, OPT, gateway_res),
};

const struct lwm2m_object_def *lwm2m_builtin_core(size_t *n) {
    *n = sizeof(core_objects) / sizeof(core_objects[0]);
    return core_objects;
}
