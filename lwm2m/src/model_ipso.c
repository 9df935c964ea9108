/* SPDX-License-Identifier: Apache-2.0 */
/* Built-in IPSO Smart Objects (3200-3340 set used by field devices), written from the OMA LwM2M
 * registry definitions. The reusable resources (5500-, 5600-, 5700-, 5800-series, 6050) are
 * spelled once as macros; objects with identical resource sets share one static table. */
#include "model_builtin.h"

#define R_DI_COUNTER   RES(5501, "Digital Input Counter", R, SINGLE, OPT, INTEGER, NO_RANGE, "")
#define R_TIMESTAMP    RES(5518, "Timestamp", R, SINGLE, OPT, TIME, NO_RANGE, "")
#define R_MIN_MEASURED RES(5601, "Min Measured Value", R, SINGLE, OPT, FLOAT, NO_RANGE, "")
#define R_MAX_MEASURED RES(5602, "Max Measured Value", R, SINGLE, OPT, FLOAT, NO_RANGE, "")
#define R_MIN_RANGE    RES(5603, "Min Range Value", R, SINGLE, OPT, FLOAT, NO_RANGE, "")
#define R_MAX_RANGE    RES(5604, "Max Range Value", R, SINGLE, OPT, FLOAT, NO_RANGE, "")
#define R_RESET_MIN_MAX                                                                            \
    RES(5605, "Reset Min and Max Measured Values", E, SINGLE, OPT, NONE, NO_RANGE, "")
#define R_SENSOR_VALUE   RES(5700, "Sensor Value", R, SINGLE, MAND, FLOAT, NO_RANGE, "")
#define R_SENSOR_UNITS   RES(5701, "Sensor Units", R, SINGLE, OPT, STRING, NO_RANGE, "")
#define R_APP_TYPE       RES(5750, "Application Type", RW, SINGLE, OPT, STRING, NO_RANGE, "")
#define R_SENSOR_TYPE    RES(5751, "Sensor Type", R, SINGLE, OPT, STRING, NO_RANGE, "")
#define R_CUMUL_ACTIVE   RES(5805, "Cumulative active power", R, SINGLE, OPT, FLOAT, NO_RANGE, "Wh")
#define R_POWER_FACTOR   RES(5820, "Power factor", R, SINGLE, OPT, FLOAT, NO_RANGE, "")
#define R_CURRENT_CAL    RES(5821, "Current Calibration", RW, SINGLE, OPT, FLOAT, NO_RANGE, "")
#define R_RESET_CUMUL    RES(5822, "Reset Cumulative energy", E, SINGLE, OPT, NONE, NO_RANGE, "")
#define R_ON_OFF(mand)   RES(5850, "On/Off", RW, SINGLE, mand, BOOLEAN, NO_RANGE, "")
#define R_DIMMER(units)  RES(5851, "Dimmer", RW, SINGLE, OPT, INTEGER, VAL(0, 100), units)
#define R_ON_TIME        RES(5852, "On time", RW, SINGLE, OPT, INTEGER, NO_RANGE, "s")
#define R_FRAC_TIMESTAMP RES(6050, "Fractional Timestamp", R, SINGLE, OPT, FLOAT, VAL(0, 1), "s")

/* 3200 Digital Input. */
static const struct lwm2m_resource_def digital_input_res[] = {
    RES(5500, "Digital Input State", R, SINGLE, MAND, BOOLEAN, NO_RANGE, ""),
    R_DI_COUNTER,
    RES(5502, "Digital Input Polarity", RW, SINGLE, OPT, BOOLEAN, NO_RANGE, ""),
    RES(5503, "Digital Input Debounce", RW, SINGLE, OPT, INTEGER, NO_RANGE, "ms"),
    RES(5504, "Digital Input Edge Selection", RW, SINGLE, OPT, INTEGER, VAL(1, 3), ""),
    RES(5505, "Digital Input Counter Reset", E, SINGLE, OPT, NONE, NO_RANGE, ""),
    R_TIMESTAMP,
    R_APP_TYPE,
    R_SENSOR_TYPE,
    R_FRAC_TIMESTAMP,
};

/* 3201 Digital Output. */
static const struct lwm2m_resource_def digital_output_res[] = {
    RES(5550, "Digital Output State", RW, SINGLE, MAND, BOOLEAN, NO_RANGE, ""),
    RES(5551, "Digital Output Polarity", RW, SINGLE, OPT, BOOLEAN, NO_RANGE, ""),
    R_APP_TYPE,
};

/* 3202 Analog Input. */
static const struct lwm2m_resource_def analog_input_res[] = {
    RES(5600, "Analog Input Current Value", R, SINGLE, MAND, FLOAT, NO_RANGE, ""),
    R_MIN_MEASURED,
    R_MAX_MEASURED,
    R_MIN_RANGE,
    R_MAX_RANGE,
    R_RESET_MIN_MAX,
    R_APP_TYPE,
    R_SENSOR_TYPE,
};

/* 3203 Analog Output. */
static const struct lwm2m_resource_def analog_output_res[] = {
    R_MIN_RANGE,
    R_MAX_RANGE,
    RES(5650, "Analog Output Current Value", RW, SINGLE, MAND, FLOAT, VAL(0, 1), ""),
    R_APP_TYPE,
};

/* 3300 Generic Sensor. */
static const struct lwm2m_resource_def generic_sensor_res[] = {
    R_MIN_MEASURED, R_MAX_MEASURED, R_MIN_RANGE, R_MAX_RANGE,   R_RESET_MIN_MAX,
    R_SENSOR_VALUE, R_SENSOR_UNITS, R_APP_TYPE,  R_SENSOR_TYPE,
};

/* 3301 Illuminance, 3303 Temperature, 3304 Humidity, 3315 Barometer. */
static const struct lwm2m_resource_def sensor_res[] = {
    R_MIN_MEASURED,  R_MAX_MEASURED, R_MIN_RANGE,    R_MAX_RANGE,
    R_RESET_MIN_MAX, R_SENSOR_VALUE, R_SENSOR_UNITS,
};

/* 3316 Voltage, 3317 Current, 3320 Percentage, 3323 Pressure, 3328 Power. */
static const struct lwm2m_resource_def calibrated_sensor_res[] = {
    R_MIN_MEASURED, R_MAX_MEASURED, R_MIN_RANGE, R_MAX_RANGE,   R_RESET_MIN_MAX,
    R_SENSOR_VALUE, R_SENSOR_UNITS, R_APP_TYPE,  R_CURRENT_CAL,
};

/* 3305 Power Measurement. */
static const struct lwm2m_resource_def power_measurement_res[] = {
    R_RESET_MIN_MAX,
    RES(5800, "Instantaneous active power", R, SINGLE, MAND, FLOAT, NO_RANGE, "W"),
    RES(5801, "Min Measured active power", R, SINGLE, OPT, FLOAT, NO_RANGE, "W"),
    RES(5802, "Max Measured active power", R, SINGLE, OPT, FLOAT, NO_RANGE, "W"),
    RES(5803, "Min Range active power", R, SINGLE, OPT, FLOAT, NO_RANGE, "W"),
    RES(5804, "Max Range active power", R, SINGLE, OPT, FLOAT, NO_RANGE, "W"),
    R_CUMUL_ACTIVE,
    RES(5806, "Active Power Calibration", W, SINGLE, OPT, FLOAT, NO_RANGE, "W"),
    RES(5810, "Instantaneous reactive power", R, SINGLE, OPT, FLOAT, NO_RANGE, "var"),
    RES(5811, "Min Measured reactive power", R, SINGLE, OPT, FLOAT, NO_RANGE, "var"),
    RES(5812, "Max Measured reactive power", R, SINGLE, OPT, FLOAT, NO_RANGE, "var"),
    RES(5813, "Min Range reactive power", R, SINGLE, OPT, FLOAT, NO_RANGE, "var"),
    RES(5814, "Max Range reactive power", R, SINGLE, OPT, FLOAT, NO_RANGE, "var"),
    RES(5815, "Cumulative reactive power", R, SINGLE, OPT, FLOAT, NO_RANGE, "varh"),
    RES(5816, "Reactive Power Calibration", W, SINGLE, OPT, FLOAT, NO_RANGE, "var"),
    R_POWER_FACTOR,
    R_CURRENT_CAL,
    R_RESET_CUMUL,
};

/* 3306 Actuation. */
static const struct lwm2m_resource_def actuation_res[] = {
    R_TIMESTAMP,      R_APP_TYPE,
    R_ON_OFF(MAND),   R_DIMMER("/100"),
    R_ON_TIME,        RES(5853, "Multi-state Output", RW, SINGLE, OPT, STRING, NO_RANGE, ""),
    R_FRAC_TIMESTAMP,
};

/* 3311 Light Control. */
static const struct lwm2m_resource_def light_control_res[] = {
    R_SENSOR_UNITS, RES(5706, "Colour", RW, SINGLE, OPT, STRING, NO_RANGE, ""),
    R_APP_TYPE,     R_CUMUL_ACTIVE,
    R_POWER_FACTOR, R_ON_OFF(MAND),
    R_DIMMER("%"),  R_ON_TIME,
};

/* 3331 Energy: the meter reading is 5805 Cumulative active power (mandatory here), not 5700. */
static const struct lwm2m_resource_def energy_res[] = {
    R_SENSOR_UNITS,
    R_APP_TYPE,
    RES(5805, "Cumulative active power", R, SINGLE, MAND, FLOAT, NO_RANGE, "Wh"),
    R_RESET_CUMUL,
};

/* 3336 Location. */
static const struct lwm2m_resource_def location_res[] = {
    RES(5514, "Latitude", R, SINGLE, MAND, STRING, NO_RANGE, ""),
    RES(5515, "Longitude", R, SINGLE, MAND, STRING, NO_RANGE, ""),
    RES(5516, "Uncertainty", R, SINGLE, OPT, STRING, NO_RANGE, ""),
    RES(5517, "Velocity", R, SINGLE, OPT, OPAQUE, NO_RANGE, ""),
    R_TIMESTAMP,
    RES(5705, "Compass Direction", R, SINGLE, OPT, FLOAT, VAL(0, 360), "degree"),
    R_APP_TYPE,
};

/* 3340 Timer. */
static const struct lwm2m_resource_def timer_res[] = {
    R_DI_COUNTER,
    RES(5521, "Delay Duration", RW, SINGLE, MAND, FLOAT, NO_RANGE, "s"),
    RES(5523, "Trigger", E, SINGLE, OPT, NONE, NO_RANGE, ""),
    RES(5525, "Minimum Off-time", RW, SINGLE, OPT, FLOAT, NO_RANGE, "s"),
    RES(5526, "Timer Mode", RW, SINGLE, OPT, INTEGER, VAL(0, 4), ""),
    RES(5534, "Counter", RW, SINGLE, OPT, INTEGER, NO_RANGE, ""),
    RES(5538, "Remaining Time", R, SINGLE, OPT, FLOAT, NO_RANGE, "s"),
    RES(5543, "Digital State", R, SINGLE, OPT, BOOLEAN, NO_RANGE, ""),
    RES(5544, "Cumulative Time", RW, SINGLE, OPT, FLOAT, NO_RANGE, "s"),
    R_APP_TYPE,
    R_ON_OFF(OPT),
};

static const struct lwm2m_object_def ipso_objects[] = {
    OBJ(3200, "Digital Input", "1.0", MULTI, OPT, digital_input_res),
    OBJ(3201, "Digital Output", "1.0", MULTI, OPT, digital_output_res),
    OBJ(3202, "Analog Input", "1.0", MULTI, OPT, analog_input_res),
    OBJ(3203, "Analog Output", "1.0", MULTI, OPT, analog_output_res),
    OBJ(3300, "Generic Sensor", "1.0", MULTI, OPT, generic_sensor_res),
    OBJ(3301, "Illuminance", "1.0", MULTI, OPT, sensor_res),
    OBJ(3303, "Temperature", "1.0", MULTI, OPT, sensor_res),
    OBJ(3304, "Humidity", "1.0", MULTI, OPT, sensor_res),
    OBJ(3305, "Power Measurement", "1.0", MULTI, OPT, power_measurement_res),
    OBJ(3306, "Actuation", "1.0", MULTI, OPT, actuation_res),
    OBJ(3311, "Light Control", "1.0", MULTI, OPT, light_control_res),
    OBJ(3315, "Barometer", "1.0", MULTI, OPT, sensor_res),
    OBJ(3316, "Voltage", "1.0", MULTI, OPT, calibrated_sensor_res),
    OBJ(3317, "Current", "1.0", MULTI, OPT, calibrated_sensor_res),
    OBJ(3320, "Percentage", "1.0", MULTI, OPT, calibrated_sensor_res),
    OBJ(3323, "Pressure", "1.0", MULTI, OPT, calibrated_sensor_res),
    OBJ(3328, "Power", "1.0", MULTI, OPT, calibrated_sensor_res),
    OBJ(3331, "Energy", "1.0", MULTI, OPT, energy_res),
    OBJ(3336, "Location", "1.0", MULTI, OPT, location_res),
    OBJ(3340, "Timer", "1.0", MULTI, OPT, timer_res),
};

const struct lwm2m_object_def *lwm2m_builtin_ipso(size_t *n) {
    *n = sizeof(ipso_objects) / sizeof(ipso_objects[0]);
    return ipso_objects;
}
